"""The customer family on the pure path: classify -> Applier -> MemoryStore -> PulseCollector.

One dataset of every customer event type: any arrival order gives the same scrape, replays and
duplicates change nothing, and no personal data reaches keys, values or labels.

Times are seconds before N (= NOW_S, an exact hour). Windows 5m (N-300, N], 1h (N-3600, N] and
24h; no event sits within a bucket (5 s, 1 min, 20 min) of a window edge, so no blur is involved.
Event type by event type: tests/unit/test_customer_subscriptions.py (churn, retention, active
now) and tests/unit/test_customer_activity.py (orders, tickets, event attendance); the helpers
are shared in tests/unit/customer_support.py.
"""

from __future__ import annotations

import random

import pytest

from metrics_core.batch import classify
from metrics_core.events.model import Event
from metrics_core.families.base import Context
from metrics_core.families.changes import Changes
from metrics_core.families.customer import CustomerFamily
from metrics_core.labels import LabelCap
from metrics_core.routing import routing_key
from metrics_core.windows import retention_ms
from tests.unit.conftest import HOUR_S, NOW_MS, SESSION_TIMEOUT_MS, WINDOWS, Scrape, records
from tests.unit.customer_support import (
    MIN,
    SHARD,
    attendance,
    cancelled,
    customers,
    gauges,
    get,
    order,
    reactivated,
    started,
    ticket,
)

# --- effectively once, arrival order, privacy

DATASET = [
    *(started(f"s{i}", 2 * HOUR_S + i, f"c{i}", plan=("pro", "team")[i % 2]) for i in range(6)),
    cancelled("x0", 40 * MIN, "c0"),
    cancelled("x1", 35 * MIN, "c1", "involuntary"),
    cancelled("x1b", 30 * MIN, "c1"),
    reactivated("r1", 20 * MIN, "c1"),
    started("s9", 10 * MIN, "c9", plan="team"),
    cancelled("x9", 4 * MIN, "c9"),
    order("o1", 50 * MIN, "c2", "O-1", 12.5, "EUR"),
    order("o2", 3 * MIN, "c2", "O-2", 7.25, "EUR"),
    order("o3", 33 * MIN, "c3", "O-3", 100),
    order("o3b", 32 * MIN, "c3", "O-3", 100),
    ticket("t1o", "opened", 45 * MIN, "t1"),
    ticket("t1r", "resolved", 15 * MIN, "t1"),
    ticket("t1r2", "resolved", 25 * MIN, "t1"),
    ticket("t2o", "opened", 10 * MIN, "t2"),
    ticket("t2r", "resolved", 2 * MIN, "t2"),
    attendance("g1", "registered", 50 * MIN, "p1"),
    attendance("a1", "attended", 45 * MIN, "p1"),
    attendance("g2", "registered", 40 * MIN, "p2"),
    attendance("a3", "attended", 30 * MIN, "p3"),
]


async def _scrape_in_batches(values: list[bytes], seed: int) -> Scrape:
    pulse = customers()
    shuffled = list(values)
    random.Random(seed).shuffle(shuffled)
    rng = random.Random(seed + 1000)
    while shuffled:
        size = rng.randint(1, 5)
        await pulse.feed(*shuffled[:size])
        shuffled = shuffled[size:]
    return pulse.scrape()


async def test_any_arrival_order_gives_the_same_scrape() -> None:
    expected = await _scrape_in_batches(DATASET, 0)
    for seed in range(1, 8):
        got = await _scrape_in_batches(DATASET, seed)
        assert gauges(got) == pytest.approx(gauges(expected)), f"seed {seed}"
    s = expected
    # c0 churned (x0), c1 churned (x1) and came back (r1), c9 new and churned within 1h
    assert get(s, "pulse_active_customers", None, plan="pro") == 2  # c2, c4
    assert get(s, "pulse_active_customers", None, plan="team") == 3  # c1, c3, c5
    assert get(s, "pulse_churned_customers", reason="voluntary") == 2  # x0, x9
    assert get(s, "pulse_churned_customers", reason="involuntary") == 1  # x1 (x1b: already cancelled)
    assert get(s, "pulse_customers_at_window_start") == 6  # 5 − 2 (r1, s9) + 3
    assert get(s, "pulse_churn_ratio") == 0.5  # 3 / 6
    assert get(s, "pulse_retention_ratio") == 0.5  # (5 − 2) / 6
    assert get(s, "pulse_orders", currency="USD") == 1  # O-3 once
    assert get(s, "pulse_revenue", currency="EUR") == 19.75  # 12.5 + 7.25
    assert get(s, "pulse_repeat_buyers") == 1  # c2
    assert get(s, "pulse_ticket_resolution_seconds") == 840  # t1: 45 − 25 = 1200 s, t2: 480 s; 1680 / 2
    assert get(s, "pulse_event_attendance_ratio", event="webinar") == 0.5  # p1 of p1, p2


async def test_replays_and_duplicates_change_nothing() -> None:
    pulse = customers()
    await pulse.feed(*DATASET)
    before = pulse.scrape()
    outcome = await pulse.feed(*DATASET)  # the same event_ids at new offsets
    assert outcome.duplicates == len(DATASET)
    plan = classify(records(DATASET), "customer", 0, None, NOW_MS, retention_ms(WINDOWS), 65_536, routing_key)

    async def emit(_: object) -> None:
        return None

    replay = await pulse.applier.apply(SHARD, "customer@1|0", plan, emit, now_ms=NOW_MS)  # old offsets
    assert replay.fenced
    assert gauges(pulse.scrape()) == gauges(before)


def test_no_personal_data_in_keys_values_or_labels() -> None:
    from metrics_core.events.decode import decode

    email = "ann@example.com"
    values = [
        started("s1", 10 * MIN, email, plan=f"pro {email}"),
        order("o1", 5 * MIN, email, f"order-{email}", 3),
        ticket("t1", "opened", 5 * MIN, email),
        attendance("g1", "registered", 5 * MIN, email, name=f"meetup {email}"),
    ]
    events: list[Event] = []
    for value in values:
        decoded = decode(value, "customer", NOW_MS, 65_536)
        assert isinstance(decoded, Event), decoded
        events.append(decoded)
    changes = Changes()
    ctx = Context(NOW_MS, retention_ms(WINDOWS), SESSION_TIMEOUT_MS, LabelCap(500))
    family = CustomerFamily()
    family.apply(events, dict.fromkeys(family.state_keys(events)), ctx, changes)
    assert changes.states and changes.totals
    assert "example.com" not in repr(changes)
    assert "<email>" in repr(changes.totals)  # the plan label, sanitised
