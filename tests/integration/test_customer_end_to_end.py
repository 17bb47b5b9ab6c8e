"""The customer family end to end: a known dataset through real Tansu, `pulse worker`, Redis and
`pulse exporter`, with a SIGKILL mid-way; /metrics must equal the hand-computed values.

Times are seconds before the data is produced (`_ago`, resolved by `_produce`). Events of the 5m
window are at most 2 min old and the 1h-only ones 10..50 min old (the rest 90..100 min), so the
minute or so the test takes moves none across a window edge.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from streams.embedded import EmbeddedKafka, EmbeddedRedis
from tests.integration.harness import (
    Samples,
    promtool_check,
    run_with_sigkill,
    samples,
    stack_settings,
    total,
    value,
)

pytestmark = pytest.mark.integration

MIN = 60
ANN = "ann@example.com"  # a customer id that is an e-mail address: it must not reach Redis


def ev(eid: str, kind: str, ago_s: int, **fields: Any) -> dict[str, Any]:
    return {"event_id": eid, "type": f"customer.{kind}", "_ago": ago_s, "property": "shop", **fields}


def start(eid: str, ago_s: int, customer: str, plan: str) -> tuple[bytes, dict[str, Any]]:
    return customer.encode(), ev(eid, "subscription_started", ago_s, customer_id=customer, plan=plan)


def cancel(eid: str, ago_s: int, customer: str, reason: str | None = None) -> tuple[bytes, dict[str, Any]]:
    extra = {"reason": reason} if reason else {}
    return customer.encode(), ev(eid, "subscription_cancelled", ago_s, customer_id=customer, **extra)


def order(
    eid: str, ago_s: int, customer: str, oid: str, amount: float, cur: str
) -> tuple[bytes, dict[str, Any]]:
    fields = {"customer_id": customer, "order_id": oid, "amount": amount, "currency": cur}
    return customer.encode(), ev(eid, "order_placed", ago_s, **fields)


def tk(eid: str, kind: str, ago_s: int, tid: str) -> tuple[bytes | None, dict[str, Any]]:
    return None, ev(eid, f"ticket_{kind}", ago_s, ticket_id=tid)  # no key: re-keyed by ticket_id


def att(eid: str, kind: str, ago_s: int, who: str) -> tuple[bytes, dict[str, Any]]:
    return who.encode(), ev(eid, f"event_{kind}", ago_s, event_name="webinar", attendee_id=who)


# Ten customers c0..c9 started 90 min ago (before the 1h window): c0..c6 "pro", c7..c9 "team".
CUSTOMERS = [f"c{i}" for i in range(9)] + [ANN]
PART_ONE: list[tuple[bytes | None, Any]] = [
    *(start(f"s{i}", 90 * MIN, c, "pro" if i < 7 else "team") for i, c in enumerate(CUSTOMERS)),
    cancel("x0", 30 * MIN, "c0", "voluntary"),
    cancel("x1", 30 * MIN, "c1", "voluntary"),
    cancel("x2", 20 * MIN, "c2", "involuntary"),
    cancel("y1", 25 * MIN, "late-starter"),  # before its start arrives (part two)
    order("o1", 30 * MIN, "c3", "O-1", 100, "USD"),
    order("o3", 20 * MIN, "c4", "O-3", 20, "EUR"),
    order("o5", 100 * MIN, ANN, "O-5", 10, "USD"),  # ANN's first order, outside 1h
    tk("t1o", "opened", 50 * MIN, "t1"),
    tk("t1r", "resolved", 30 * MIN, "t1"),
    tk("t2r", "resolved", 10 * MIN, "t2"),  # before its opening arrives
    att("a2", "attended", 25 * MIN, "p2"),  # before its registration arrives
    att("g1", "registered", 30 * MIN, "p1"),
    (b"c0", b"{not json"),
]
PART_TWO: list[tuple[bytes | None, Any]] = [
    cancel("x2b", 15 * MIN, "c2", "voluntary"),  # cancelled already: changes nothing
    (b"c1", ev("r1", "subscription_reactivated", 10 * MIN, customer_id="c1")),
    start("n1", 40 * MIN, "n1", "team"),
    start("n2", 1 * MIN, "n2", "pro"),
    start("y0", 45 * MIN, "late-starter", "pro"),
    order("o2", 50, "c3", "O-2", 50, "USD"),
    order("o3b", 19 * MIN, "c4", "O-3", 20, "EUR"),  # the same order_id again: ignored
    order("o4", 40 * MIN, "c5", "O-4", 30, "USD"),
    order("o6", 10 * MIN, ANN, "O-6", 40, "USD"),
    tk("t1r2", "resolved", 20 * MIN, "t1"),  # resolved twice: keeps the first
    tk("t2o", "opened", 40 * MIN, "t2"),
    tk("t3o", "opened", 15 * MIN, "t3"),
    tk("t3r", "resolved", 2 * MIN, "t3"),
    att("g2", "registered", 35 * MIN, "p2"),
    att("a1", "attended", 20 * MIN, "p1"),
    att("g3", "registered", 40 * MIN, "p3"),
    att("i1", "interaction", 2 * MIN, "p1"),
    att("g1", "registered", 30 * MIN, "p1"),  # a duplicate (same event_id)
    (
        None,
        {"event_id": "bad", "type": "customer.order_placed", "_ago": 0, "customer_id": "c9"},
    ),  # no order_id
]
ACCEPTED = {  # by type, duplicates and rejections left out
    "subscription_started": 13,
    "subscription_cancelled": 5,
    "subscription_reactivated": 1,
    "order_placed": 7,
    "ticket_opened": 3,
    "ticket_resolved": 4,
    "event_registered": 3,
    "event_attended": 2,
    "event_interaction": 1,
}

# Active now: pro c1 (reactivated), c3..c6, n2 = 6; team c7, c8, ANN, n1 = 4; c0, c2 and the
# late starter are cancelled. 1h: activations r1, n1, n2, y0 = 4 (new: n1, n2, y0); churns
# x0, x1 (voluntary), x2 (involuntary), y1 (unspecified) = 4; at start 10 − 4 + 4 = 10.
EXPECTED_1H = {
    "pulse_customer_activations": 4,
    "pulse_new_customers": 3,
    "pulse_customers_at_window_start": 10,
    "pulse_churn_ratio": 0.4,  # 4 / 10
    "pulse_retention_ratio": 0.6,  # (10 − 4) / 10
    "pulse_buyers": 4,  # c3, c4, c5, ANN
    "pulse_repeat_buyers": 2,  # c3 (O-1, O-2), ANN (O-5 before the window, O-6)
    "pulse_repeat_purchase_ratio": 0.5,
    "pulse_tickets_resolved": 3,
    "pulse_ticket_resolution_seconds": 1260,  # t1 1200, t2 1800, t3 780: 3780 / 3
    "pulse_ticket_resolution_median_seconds": 1200,
}
# 5m: only n2 (activation, new), O-2, t3 and i1. At start 10 − 1 + 0 = 9.
EXPECTED_5M = {
    "pulse_customer_activations": 1,
    "pulse_new_customers": 1,
    "pulse_customers_at_window_start": 9,
    "pulse_churn_ratio": 0.0,
    "pulse_retention_ratio": 1.0,  # (10 − 1) / 9
    "pulse_buyers": 1,
    "pulse_repeat_buyers": 1,  # c3
    "pulse_tickets_resolved": 1,
    "pulse_ticket_resolution_seconds": 780,  # t3: 15 min − 2 min
    "pulse_ticket_resolution_median_seconds": 780,
}
CURRENCIES_1H = {  # currency: (revenue, orders, AOV, CLV = (revenue / 10) / 0.4)
    "USD": (220, 4, 55, 55),  # O-1 100, O-2 50, O-4 30, O-6 40
    "EUR": (20, 1, 20, 5),  # O-3 once
}


def _encode(payload: Any, now_s: int) -> bytes:
    if isinstance(payload, bytes):
        return payload
    body = {k: v for k, v in payload.items() if k != "_ago"}
    return orjson.dumps({**body, "timestamp": now_s - payload["_ago"]})


def _stored_text(client: redis.Redis) -> str:
    """Every key and value in Redis (strings, hashes, sets, sorted sets), as one text."""
    reads: dict[bytes, Callable[[bytes], object]] = {
        b"string": client.get,
        b"hash": client.hgetall,
        b"set": client.smembers,
        b"zset": lambda key: client.zrange(key, 0, -1),
    }
    parts: list[object] = []
    for key in client.scan_iter():
        kind = client.type(key)
        parts += [key, reads[kind](key) if kind in reads else kind]
    return repr(parts)


def test_customer_metrics_exact_through_kafka_redis_and_a_sigkill(
    kafka: EmbeddedKafka,
    redis_server: EmbeddedRedis,
    redis_client: redis.Redis,
    topic_prefix: str,
    tmp_path: Path,
    promtool: str,
) -> None:
    settings = stack_settings(kafka.url, redis_server.url, topic_prefix)
    topic = settings.topic("customer")
    now_s = int(time.time())
    part_one = [(key, _encode(payload, now_s)) for key, payload in PART_ONE]
    part_two = [(key, _encode(payload, now_s)) for key, payload in PART_TWO]

    def settled(found: Samples) -> bool:
        everything = total(found, "pulse_events_total") >= sum(ACCEPTED.values())
        return everything and total(found, "pulse_events_rejected_total") >= 2

    text = run_with_sigkill(settings, tmp_path, topic, part_one, part_two, first=1, settled=settled)

    found = samples(text)
    for kind, count in ACCEPTED.items():
        assert value(found, "pulse_events_total", topic=topic, type=f"customer.{kind}") == count, kind
    assert value(found, "pulse_events_duplicate_total", topic=topic) == 1
    shop = {"property": "shop"}
    assert value(found, "pulse_active_customers", plan="pro", **shop) == 6
    assert value(found, "pulse_active_customers", plan="team", **shop) == 4
    churned = {"voluntary": 2, "involuntary": 1, "unspecified": 1}
    for reason, n in churned.items():
        assert value(found, "pulse_churned_customers", window="1h", reason=reason, **shop) == n, reason
        assert value(found, "pulse_churned_customers", window="5m", reason=reason, **shop) == 0, reason
    for window, expected in (("1h", EXPECTED_1H), ("5m", EXPECTED_5M)):
        for name, number in expected.items():
            got = value(found, name, window=window, **shop)
            assert got == pytest.approx(number), f"{name}[{window}] = {got}, expected {number}"
    for cur, (revenue, orders, aov, clv) in CURRENCIES_1H.items():
        labels = {"window": "1h", "currency": cur, **shop}
        assert value(found, "pulse_revenue", **labels) == pytest.approx(revenue), cur
        assert value(found, "pulse_orders", **labels) == orders, cur
        assert value(found, "pulse_average_order_value", **labels) == pytest.approx(aov), cur
        assert value(found, "pulse_customer_lifetime_value", **labels) == pytest.approx(clv), cur
    usd_5m = {"window": "5m", "currency": "USD", **shop}
    assert value(found, "pulse_revenue", **usd_5m) == 50  # O-2
    assert value(found, "pulse_customer_lifetime_value", **usd_5m) is None  # no churn in 5m
    webinar = {"event": "webinar", **shop}
    assert value(found, "pulse_event_registrants", window="1h", **webinar) == 3  # p1, p2, p3
    assert value(found, "pulse_event_attendees", window="1h", **webinar) == 2  # p1, p2
    assert value(found, "pulse_event_attendance_ratio", window="1h", **webinar) == pytest.approx(2 / 3)
    assert value(found, "pulse_event_interactions", window="5m", **webinar) == 1
    assert value(found, "pulse_event_registrants", window="5m", **webinar) == 0
    assert value(found, "pulse_up") == 1
    promtool_check(promtool, text)
    stored = _stored_text(redis_client)
    assert "{pulse:" in stored and "example.com" not in stored
