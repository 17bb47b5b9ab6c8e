"""The customer family's other event types: orders (average order value, repeat purchase,
customer lifetime value), support tickets (resolution time and median) and event attendance.

Times are seconds before N (= NOW_S, an exact hour), as in tests/unit/test_customer_family.py,
with which they share `customers`, `get` and the event builders (tests/unit/customer_support.py).
"""

from __future__ import annotations

import pytest

from tests.unit.conftest import HOUR_S
from tests.unit.customer_support import MIN, attendance, cancelled, customers, get, order, started, ticket

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
