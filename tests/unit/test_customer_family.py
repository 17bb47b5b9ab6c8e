"""The customer family on the pure path: classify -> Applier -> MemoryStore -> PulseCollector.

Times are seconds before N (= NOW_S, an exact hour). Windows 5m (N-300, N], 1h (N-3600, N] and
24h; no event sits within a bucket (5 s, 1 min, 20 min) of a window edge, so no blur is involved.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest

from metrics_core.batch import Applier, Limits, Outcome, classify
from metrics_core.events.model import Event
from metrics_core.exposition.customer import NOW_SPECS, SPECS
from metrics_core.families.base import Context, state_key
from metrics_core.families.changes import Changes
from metrics_core.families.customer import CustomerFamily
from metrics_core.families.ledger import Base, Ledger
from metrics_core.labels import LabelCap
from metrics_core.routing import routing_key
from metrics_core.store.base import ShardId
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import retention_ms
from tests.unit.conftest import (
    HOUR_S,
    NOW_MS,
    NOW_S,
    SESSION_TIMEOUT_MS,
    WINDOWS,
    Scrape,
    event,
    parse,
    records,
    scrape_text,
)

N = NOW_S
MIN = 60
SHARD = ShardId("customer", 0)


def started(eid: str, ago_s: int, customer: str, plan: str | None = "pro", **more: Any) -> bytes:
    return event("customer.subscription_started", eid, N - ago_s, customer_id=customer, plan=plan, **more)


def reactivated(eid: str, ago_s: int, customer: str, **more: Any) -> bytes:
    return event("customer.subscription_reactivated", eid, N - ago_s, customer_id=customer, **more)


def cancelled(eid: str, ago_s: int, customer: str, reason: str | None = "voluntary") -> bytes:
    return event("customer.subscription_cancelled", eid, N - ago_s, customer_id=customer, reason=reason)


def order(eid: str, ago_s: int, customer: str, order_id: str, amount: float, currency: str = "USD") -> bytes:
    return event(
        "customer.order_placed",
        eid,
        N - ago_s,
        customer_id=customer,
        order_id=order_id,
        amount=amount,
        currency=currency,
    )


def ticket(eid: str, kind: str, ago_s: int, ticket_id: str) -> bytes:
    return event(f"customer.ticket_{kind}", eid, N - ago_s, ticket_id=ticket_id)


def attendance(eid: str, kind: str, ago_s: int, attendee: str, name: str = "webinar") -> bytes:
    return event(f"customer.event_{kind}", eid, N - ago_s, event_name=name, attendee_id=attendee)


@dataclass
class Customers:
    """One customer partition's worker on the in-memory store, with a fixed clock."""

    store: MemoryStore
    applier: Applier
    next_offset: int = 0

    async def feed(self, *values: bytes, now_ms: int = NOW_MS) -> Outcome:
        batch = records(values, self.next_offset)
        self.next_offset += len(batch)
        plan = classify(batch, "customer", 0, None, now_ms, retention_ms(WINDOWS), 65_536, routing_key)
        assert not plan.rejected, plan.rejected

        async def emit(_: object) -> None:
            return None

        return await self.applier.apply(SHARD, "customer@1|0", plan, emit, now_ms=now_ms)

    def scrape(self, now_ms: int = NOW_MS, label_cap: int = 500) -> Scrape:
        return parse(scrape_text(self.store, now_ms, label_cap=label_cap))


def customers() -> Customers:
    store = MemoryStore()
    limits = Limits(WINDOWS, retention_ms(WINDOWS), 72 * HOUR_S * 1000, SESSION_TIMEOUT_MS, 500)
    return Customers(store, Applier(store, CustomerFamily(), limits))


def get(scrape: Scrape, name: str, window: str | None = "1h", **labels: str) -> float | None:
    found = {"property": "default", **labels}
    if window is not None:
        found["window"] = window
    return scrape.get(name, **found)


def gauges(scrape: Scrape) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The customer family's samples (pipeline metrics such as apply latency left out)."""
    names = tuple([*SPECS, *NOW_SPECS])
    return {key: v for key, v in scrape.samples.items() if key[0].startswith(names)}


# --- the customer ledger: churn, retention, active now


async def test_churn_20_of_100_is_020() -> None:
    pulse = customers()
    await pulse.feed(*(started(f"s{i}", 2 * HOUR_S, f"c{i}") for i in range(100)))
    await pulse.feed(
        *(cancelled(f"x{i}", 30 * MIN, f"c{i}", ("voluntary", "involuntary")[i % 2]) for i in range(20))
    )
    s = pulse.scrape()
    assert get(s, "pulse_active_customers", None, plan="pro") == 80  # 100 − 20
    assert get(s, "pulse_churned_customers", reason="voluntary") == 10  # c0, c2, ..., c18
    assert get(s, "pulse_churned_customers", reason="involuntary") == 10
    assert get(s, "pulse_churned_customers", reason="unspecified") == 0
    assert get(s, "pulse_customers_at_window_start") == 100  # 80 − 0 + 20
    assert get(s, "pulse_churn_ratio") == pytest.approx(0.20)  # 20 / 100
    assert get(s, "pulse_churn_ratio_sample_size") == 100
    assert get(s, "pulse_retention_ratio") == pytest.approx(0.80)  # (80 − 0) / 100
    # Wilson, p = 0.2, n = 100: centre 0.2 + 1.96²/200 = 0.21921, margin
    # 1.96·sqrt(0.0016 + 1.96²/40000) = 0.08072, scale 1 + 1.96²/100 = 1.03841
    assert get(s, "pulse_churn_ratio_lower") == pytest.approx(0.13337, abs=1e-4)
    assert get(s, "pulse_churn_ratio_upper") == pytest.approx(0.28883, abs=1e-4)
    # 5m: nothing happened; at start = 80 − 0 + 0
    assert get(s, "pulse_churn_ratio", "5m") == 0.0
    assert get(s, "pulse_customers_at_window_start", "5m") == 80
    # 24h: all 100 started inside it: 80 − 100 + 20 = 0 at start: no ratio, sample size 0
    assert get(s, "pulse_new_customers", "24h") == 100
    assert get(s, "pulse_churn_ratio", "24h") is None
    assert get(s, "pulse_churn_ratio_sample_size", "24h") == 0


async def test_retention_100_start_10_new_100_end_is_090() -> None:
    pulse = customers()
    await pulse.feed(*(started(f"s{i}", 2 * HOUR_S, f"c{i}") for i in range(100)))
    await pulse.feed(*(cancelled(f"x{i}", 40 * MIN, f"c{i}") for i in range(10)))
    await pulse.feed(*(started(f"n{i}", 20 * MIN, f"new{i}", plan="basic") for i in range(10)))
    s = pulse.scrape()
    assert get(s, "pulse_active_customers", None, plan="pro") == 90
    assert get(s, "pulse_active_customers", None, plan="basic") == 10  # 100 at the end
    assert get(s, "pulse_new_customers") == 10
    assert get(s, "pulse_customer_activations") == 10
    assert get(s, "pulse_customers_at_window_start") == 100  # 100 − 10 + 10
    assert get(s, "pulse_retention_ratio") == pytest.approx(0.90)  # (100 − 10) / 100
    assert get(s, "pulse_churn_ratio") == pytest.approx(0.10)  # 10 / 100


async def test_a_second_cancellation_changes_nothing() -> None:
    pulse = customers()
    await pulse.feed(started("s1", 2 * HOUR_S, "c1"), started("s2", 2 * HOUR_S, "c2"))
    await pulse.feed(cancelled("x1", 30 * MIN, "c1", "voluntary"))
    before = pulse.scrape()
    await pulse.feed(cancelled("x2", 10 * MIN, "c1", "involuntary"))  # cancelled already
    after = pulse.scrape()
    assert gauges(after) == gauges(before)
    assert get(after, "pulse_churned_customers", reason="voluntary") == 1
    assert get(after, "pulse_churned_customers", reason="involuntary") == 0
    assert get(after, "pulse_churn_ratio") == pytest.approx(0.5)  # 1 / (1 − 0 + 1)


async def test_an_earlier_cancellation_arriving_later_moves_the_churn() -> None:
    pulse = customers()
    await pulse.feed(started("s1", 2 * HOUR_S, "c1"), cancelled("x1", 2 * MIN, "c1", "voluntary"))
    assert get(pulse.scrape(), "pulse_churned_customers", "5m", reason="voluntary") == 1
    await pulse.feed(cancelled("x0", 50 * MIN, "c1", "involuntary"))  # the real churn, 50 min ago
    s = pulse.scrape()
    assert get(s, "pulse_churned_customers", "5m", reason="voluntary") == 0  # x1 is no transition now
    assert get(s, "pulse_churned_customers", reason="involuntary") == 1
    assert get(s, "pulse_churned_customers", reason="voluntary") == 0
    assert get(s, "pulse_active_customers", None, plan="pro") is None  # nobody active: no sample


async def test_reactivation_returns_the_customer_to_active() -> None:
    pulse = customers()
    await pulse.feed(started("s1", 2 * HOUR_S, "c1", plan="pro"))
    await pulse.feed(cancelled("x1", 40 * MIN, "c1"))
    assert get(pulse.scrape(), "pulse_active_customers", None, plan="pro") is None
    await pulse.feed(reactivated("r1", 10 * MIN, "c1"))  # no plan: keeps "pro"
    s = pulse.scrape()
    assert get(s, "pulse_active_customers", None, plan="pro") == 1
    assert get(s, "pulse_customer_activations") == 1  # r1
    assert get(s, "pulse_new_customers") == 0  # not the first activation
    assert get(s, "pulse_churned_customers", reason="voluntary") == 1
    assert get(s, "pulse_customers_at_window_start") == 1  # 1 − 1 + 1
    assert get(s, "pulse_churn_ratio") == 1.0  # 1 / 1
    assert get(s, "pulse_retention_ratio") == 0.0  # (1 − 1) / 1: it churned, it is not retained


async def test_a_cancel_arriving_before_the_start() -> None:
    pulse = customers()
    await pulse.feed(cancelled("x1", 10 * MIN, "c1", None))  # unknown customer: no transition
    s = pulse.scrape()
    assert get(s, "pulse_churned_customers", reason="unspecified") is None  # nothing counted at all
    await pulse.feed(started("s1", 50 * MIN, "c1", plan=None))
    s = pulse.scrape()
    assert get(s, "pulse_new_customers") == 1  # s1 at N-50m
    assert get(s, "pulse_churned_customers", reason="unspecified") == 1  # x1 at N-10m, now a churn
    assert get(s, "pulse_active_customers", None, plan="none") is None  # cancelled at the end
    assert get(s, "pulse_customers_at_window_start") == 0  # 0 − 1 + 1
    assert get(s, "pulse_churn_ratio") is None  # 1 / 0: not exported
    assert get(s, "pulse_churn_ratio_sample_size") == 0


async def test_equal_timestamps_cancel_last_and_plan_changes_follow_the_latest_event() -> None:
    pulse = customers()
    await pulse.feed(cancelled("x1", 30 * MIN, "c1"), started("s1", 30 * MIN, "c1"))
    await pulse.feed(started("s2", 20 * MIN, "c2", plan="pro"), started("s3", 10 * MIN, "c2", plan="team"))
    s = pulse.scrape()
    assert get(s, "pulse_new_customers") == 2  # c1 at N-30m, c2 at N-20m (s3 is no transition)
    assert get(s, "pulse_churned_customers", reason="voluntary") == 1  # c1: start, then cancel, same ms
    assert get(s, "pulse_active_customers", None, plan="team") == 1  # c2 on its latest plan
    assert get(s, "pulse_active_customers", None, plan="pro") is None


async def test_old_subscription_events_compact_and_the_ledger_remembers_its_first_activation() -> None:
    pulse = customers()
    await pulse.feed(started("s1", 24 * HOUR_S, "c1"), cancelled("x1", 23 * HOUR_S, "c1"))
    later = NOW_MS + 2 * HOUR_S * 1000  # s1 and x1 now lie beyond the 25 h retention
    await pulse.feed(reactivated("r1", -HOUR_S - 20 * MIN, "c1"), now_ms=later)  # at N+1h20m
    key = state_key("c", "default", "c1")
    snap = await pulse.store.snapshot(SHARD, "customer@1|0", [], [key], None)
    ledger = Ledger.load(snap.states[key])
    assert ledger.base == Base(active=False, plan="pro", ever=True)  # s1, x1 folded into the base
    assert [s.kind for s in ledger.subs] == ["react"]
    assert ledger.active_now == ("default", "pro")
    s = pulse.scrape(later)
    assert get(s, "pulse_customer_activations") == 1
    assert get(s, "pulse_new_customers") == 0  # c1 was active 24 h before: not new
    assert get(s, "pulse_active_customers", None, plan="pro") == 1


# --- orders: AOV, repeat purchase, CLV


async def test_average_order_value_per_currency() -> None:
    pulse = customers()
    await pulse.feed(
        order("o1", 10 * MIN, "c1", "A-1", 10.00, "EUR"),
        order("o2", 20 * MIN, "c1", "A-2", 20.50, "EUR"),
        order("o3", 30 * MIN, "c2", "B-1", 99.99),  # USD by default
    )
    await pulse.feed(
        order("o4", 40 * MIN, "c3", "C-1", 30.00, "EUR"),
        order("o5", 41 * MIN, "c3", "C-1", 30.00, "EUR"),  # the same order again: ignored
    )
    s = pulse.scrape()
    assert get(s, "pulse_revenue", currency="EUR") == pytest.approx(60.50)  # 10 + 20.5 + 30
    assert get(s, "pulse_orders", currency="EUR") == 3
    assert get(s, "pulse_average_order_value", currency="EUR") == pytest.approx(60.50 / 3)  # 20.1666…
    assert get(s, "pulse_average_order_value_sample_size", currency="EUR") == 3
    assert get(s, "pulse_revenue", currency="USD") == pytest.approx(99.99)
    assert get(s, "pulse_average_order_value", currency="USD") == pytest.approx(99.99)  # 99.99 / 1
    # 5m: quiet, but the currencies seen in other windows get zeros; 0/0 has only its sample size
    assert get(s, "pulse_orders", "5m", currency="EUR") == 0
    assert get(s, "pulse_average_order_value", "5m", currency="EUR") is None
    assert get(s, "pulse_average_order_value_sample_size", "5m", currency="EUR") == 0


async def test_an_implausibly_large_order_is_ignored() -> None:
    pulse = customers()
    await pulse.feed(
        order("o1", 10 * MIN, "c1", "A-1", 10**12 + 1), order("o2", 10 * MIN, "c1", "A-2", 10**12)
    )
    s = pulse.scrape()
    assert get(s, "pulse_orders", currency="USD") == 1  # 10^12 units is still counted
    assert get(s, "pulse_revenue", currency="USD") == 10**12
    assert get(s, "pulse_repeat_buyers") == 0  # A-1 is no order at all: c1 has 1 lifetime order


async def test_repeat_purchase_with_the_second_order_arriving_before_the_first() -> None:
    pulse = customers()
    await pulse.feed(
        order("a1", 2 * MIN, "ca", "a-1", 5),
        order("b1", 3 * MIN, "cb", "b-1", 5),
        order("c2", 20 * HOUR_S, "cc", "c-2", 5),  # cc's first order, in 24h only
    )
    s = pulse.scrape()
    assert (get(s, "pulse_buyers", "5m"), get(s, "pulse_repeat_buyers", "5m")) == (2, 0)
    # ca's earlier order arrives later: ca has 2 lifetime orders, so a1's bucket gets it as well
    await pulse.feed(order("a0", 50 * MIN, "ca", "a-0", 5), order("c1", 30 * MIN, "cc", "c-1", 5))
    s = pulse.scrape()
    assert get(s, "pulse_buyers", "5m") == 2  # ca (a1), cb (b1)
    assert get(s, "pulse_repeat_buyers", "5m") == 1  # ca
    assert get(s, "pulse_repeat_purchase_ratio", "5m") == 0.5  # 1 / 2
    assert get(s, "pulse_buyers") == 3  # 1h: ca, cb, cc (c1)
    assert get(s, "pulse_repeat_buyers") == 2  # ca, cc
    assert get(s, "pulse_repeat_purchase_ratio") == pytest.approx(2 / 3)
    assert get(s, "pulse_repeat_purchase_ratio_lower") is not None  # a proportion: Wilson interval
    assert get(s, "pulse_repeat_buyers", "24h") == 2  # cc's c2 bucket was marked when c1 came


async def test_customer_lifetime_value() -> None:
    pulse = customers()
    await pulse.feed(*(started(f"s{i}", 2 * HOUR_S, f"c{i}") for i in range(100)))
    await pulse.feed(*(cancelled(f"x{i}", 30 * MIN, f"c{i}") for i in range(20)))
    await pulse.feed(*(order(f"o{i}", 20 * MIN, f"c{50 + i}", f"O-{i}", 500) for i in range(8)))
    s = pulse.scrape()
    assert get(s, "pulse_revenue", currency="USD") == 4000  # 8 × 500
    # (4000 / 80 active) / (20 / 100) = 50 / 0.2
    assert get(s, "pulse_customer_lifetime_value", currency="USD") == pytest.approx(250.0)
    assert get(s, "pulse_customer_lifetime_value", "5m", currency="USD") is None  # no churn: infinite
    assert get(s, "pulse_customer_lifetime_value", "24h", currency="USD") is None  # 0 at start


# --- tickets


async def test_a_ticket_resolved_twice_keeps_its_first_resolution() -> None:
    pulse = customers()
    await pulse.feed(ticket("o1", "opened", 50 * MIN, "t1"), ticket("r1", "resolved", 30 * MIN, "t1"))
    await pulse.feed(ticket("r2", "resolved", 10 * MIN, "t1"))  # a later resolution: ignored
    s = pulse.scrape()
    assert get(s, "pulse_tickets_resolved") == 1
    assert get(s, "pulse_ticket_resolution_seconds") == 1200  # N-30m − (N-50m) = 20 min
    assert get(s, "pulse_ticket_resolution_median_seconds") == 1200
    # t2: first resolved at N-3m, then an earlier resolution (N-40m) arrives: it moves out of 5m
    await pulse.feed(ticket("o2", "opened", 58 * MIN, "t2"), ticket("r3", "resolved", 3 * MIN, "t2"))
    assert get(pulse.scrape(), "pulse_ticket_resolution_seconds", "5m") == 55 * MIN
    await pulse.feed(ticket("r4", "resolved", 40 * MIN, "t2"))
    s = pulse.scrape()
    assert get(s, "pulse_tickets_resolved", "5m") == 0
    assert get(s, "pulse_ticket_resolution_median_seconds", "5m") is None
    assert get(s, "pulse_tickets_resolved") == 2
    assert get(s, "pulse_ticket_resolution_seconds") == 1140  # (1200 + 18 min = 1080) / 2
    assert get(s, "pulse_ticket_resolution_median_seconds") == 1140  # two: (1080 + 1200) / 2


async def test_a_resolution_before_its_opening_arrives_counts_once_both_are_known() -> None:
    pulse = customers()
    await pulse.feed(ticket("r1", "resolved", 10 * MIN, "t1"))
    assert get(pulse.scrape(), "pulse_tickets_resolved") is None  # no property known yet
    await pulse.feed(ticket("o1", "opened", 15 * MIN, "t1"), ticket("o0", "opened", 9 * MIN, "t0"))
    s = pulse.scrape()
    assert get(s, "pulse_tickets_resolved") == 1  # t1 only: t0 has no resolution
    assert get(s, "pulse_ticket_resolution_seconds") == 300  # 15 − 10 min


async def test_resolution_median_with_odd_and_even_counts() -> None:
    pulse = customers()
    durations = {"t1": 60, "t2": 120, "t3": 600}
    for tid, seconds in durations.items():
        await pulse.feed(ticket(f"o-{tid}", "opened", 30 * MIN + seconds, tid))
        await pulse.feed(ticket(f"r-{tid}", "resolved", 30 * MIN, tid))
    s = pulse.scrape()
    assert get(s, "pulse_ticket_resolution_median_seconds") == 120  # 60, 120, 600
    assert get(s, "pulse_ticket_resolution_seconds") == 260  # (60 + 120 + 600) / 3 = 780 / 3
    await pulse.feed(
        ticket("o-t4", "opened", 30 * MIN + 300, "t4"), ticket("r-t4", "resolved", 30 * MIN, "t4")
    )
    s = pulse.scrape()
    assert get(s, "pulse_ticket_resolution_median_seconds") == 210  # 60, 120, 300, 600: (120 + 300) / 2
    assert get(s, "pulse_ticket_resolution_seconds") == 270  # 1080 / 4
    assert get(s, "pulse_tickets_resolved") == 4


# --- event attendance


async def test_attendance_is_anchored_to_the_registration() -> None:
    pulse = customers()
    await pulse.feed(
        attendance("g1", "registered", 2 * HOUR_S, "p1"),  # 24h only
        attendance("a1", "attended", 30 * MIN, "p1"),  # counts at p1's registration
        attendance("a2", "attended", 50 * MIN, "p2"),  # no registration yet: not counted
        attendance("g3", "registered", 20 * MIN, "p3"),
        attendance("i1", "interaction", 2 * MIN, "p3"),
    )
    s = pulse.scrape()
    assert get(s, "pulse_event_registrants", event="webinar") == 1  # p3
    assert get(s, "pulse_event_attendees", event="webinar") == 0
    await pulse.feed(attendance("g2", "registered", 40 * MIN, "p2"))
    s = pulse.scrape()
    assert get(s, "pulse_event_registrants", event="webinar") == 2  # p2, p3
    assert get(s, "pulse_event_attendees", event="webinar") == 1  # p2
    assert get(s, "pulse_event_attendance_ratio", event="webinar") == 0.5  # 1 / 2
    assert get(s, "pulse_event_attendance_ratio", "24h", event="webinar") == pytest.approx(
        2 / 3
    )  # p1, p2 / 3
    assert get(s, "pulse_event_interactions", "5m", event="webinar") == 1
    assert get(s, "pulse_event_registrants", "5m", event="webinar") == 0


async def test_the_exporter_caps_event_labels_over_every_shard() -> None:
    pulse = customers()
    await pulse.feed(
        attendance("g1", "registered", 10 * MIN, "p1", "webinar"),
        attendance("g2", "registered", 10 * MIN, "p2", "webinar"),
        attendance("a2", "attended", 10 * MIN, "p2", "webinar"),
        attendance("g3", "registered", 10 * MIN, "p3", "meetup"),
    )
    s = pulse.scrape(label_cap=1)
    assert get(s, "pulse_event_registrants", event="webinar") == 2  # the heaviest value is kept
    assert get(s, "pulse_event_registrants", event="__other__") == 1  # meetup
    assert get(s, "pulse_event_registrants", event="meetup") is None
    assert get(s, "pulse_event_attendance_ratio", event="__other__") == 0.0  # 0 / 1


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
