"""The web family end to end: a known dataset through real Tansu, `pulse worker`, Redis and
`pulse exporter`, with a SIGKILL mid-way; /metrics must equal the hand-computed values."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from streams.embedded import EmbeddedKafka, EmbeddedRedis
from tests.integration.harness import (
    Item,
    Samples,
    promtool_check,
    run_with_sigkill,
    samples,
    stack_settings,
    total,
    value,
)

pytestmark = pytest.mark.integration

NOW_S = int(time.time())


def pv(eid: str, ago_s: int, page: str, **ids: str) -> dict[str, Any]:
    return {
        "event_id": eid,
        "type": "clickstream.page_view",
        "timestamp": NOW_S - ago_s,
        "page": page,
        "property": "shop",
        **ids,
    }


def ev(eid: str, kind: str, ago_s: int, **fields: str) -> dict[str, Any]:
    return {
        "event_id": eid,
        "type": f"clickstream.{kind}",
        "timestamp": NOW_S - ago_s,
        "property": "shop",
        **fields,
    }


# Visitor A: three views, sent out of order, one session (70 s, exit /checkout).
# Visitor B: one view, a bounce, sent WITHOUT a key (re-keyed through the repartition topic).
# Visitor C: session_id sess-1, two views (20 s, exit /docs), user uc uses feature "export".
# Visitor D: two views 49 minutes apart: two sessions, both bounces; the first is outside 5m.
PART_ONE: list[Item] = [
    (b"va", pv("a3", 100, "/checkout", anonymous_id="va")),
    (b"va", pv("a1", 170, "/", anonymous_id="va")),
    (None, pv("b1", 150, "/", anonymous_id="vb")),
    (b"sess-1", pv("c2", 120, "/docs", anonymous_id="vc", user_id="uc", session_id="sess-1")),
    (b"va", ev("i1", "impression", 169, placement="hero", anonymous_id="va")),
    (b"vb", ev("i2", "impression", 149, placement="hero", anonymous_id="vb")),
    (b"va", b"not json at all"),
    (b"va", ev("k1", "click", 168, placement="hero", anonymous_id="va")),
]
PART_TWO: list[Item] = [
    (b"va", pv("a2", 160, "/pricing", anonymous_id="va")),
    (b"sess-1", pv("c1", 140, "/", anonymous_id="vc", user_id="uc", session_id="sess-1")),
    (b"vc", ev("f1", "feature_used", 130, feature="export", user_id="uc", anonymous_id="vc")),
    (b"vd", pv("d1", 3000, "/blog", anonymous_id="vd")),
    (b"vd", pv("d2", 60, "/pricing", anonymous_id="vd")),
    (b"vc", ev("i3", "impression", 139, placement="hero", anonymous_id="vc")),
    (b"vd", ev("i4", "impression", 59, placement="hero", anonymous_id="vd")),
    (b"va", ev("v1", "conversion", 95, goal="signup", anonymous_id="va")),
    (b"va", pv("a1", 170, "/", anonymous_id="va")),  # a duplicate (same event_id)
    (None, {"event_id": "x1", "type": "clickstream.page_view", "timestamp": NOW_S}),  # no page
    (
        b"va",
        {
            "event_id": "x2",
            "type": "email.sent",
            "timestamp": NOW_S,
            "message_id": "m",
            "campaign_id": "c",
        },
    ),  # wrong topic
    (b"va", b"\xff\xfe garbage bytes"),
]

ACCEPTED = {"page_view": 8, "impression": 4, "click": 1, "conversion": 1, "feature_used": 1}

EXPECTED_1H = {
    "pulse_page_views": 8,  # A 3 + B 1 + C 2 + D 2
    "pulse_unique_visitors": 4,  # va vb vc vd
    "pulse_active_users": 1,  # uc
    "pulse_sessions": 5,  # A, B, C, D1, D2
    "pulse_bounced_sessions": 3,  # B, D1, D2
    "pulse_bounce_ratio": 0.6,  # 3 / 5
    "pulse_session_duration_seconds": 18.0,  # (70 + 0 + 20 + 0 + 0) / 5
}
EXPECTED_5M = {
    "pulse_page_views": 7,  # D1 is 50 minutes old
    "pulse_unique_visitors": 4,
    "pulse_sessions": 4,
    "pulse_bounced_sessions": 2,
    "pulse_bounce_ratio": 0.5,
    "pulse_session_duration_seconds": 22.5,  # 90 / 4
}
PAGES_1H = {  # page: (views, exits)
    "/": (3, 1),  # A, B, C viewed it; B exited there
    "/pricing": (2, 1),  # A and D2; D2 exited
    "/checkout": (1, 1),
    "/docs": (1, 1),
    "/blog": (1, 1),
}


def test_web_metrics_exact_through_kafka_redis_and_a_sigkill(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_prefix: str, tmp_path: Path, promtool: str
) -> None:
    settings = stack_settings(kafka.url, redis_server.url, topic_prefix)
    topic = settings.topic("clickstream")

    def settled(found: Samples) -> bool:
        return (
            total(found, "pulse_events_total") >= sum(ACCEPTED.values())
            and total(found, "pulse_events_rejected_total") >= 4
        )

    text = run_with_sigkill(
        settings, tmp_path, topic, PART_ONE, PART_TWO, first=1, settled=settled, built_at_s=NOW_S
    )

    found = samples(text)
    for kind, count in ACCEPTED.items():
        assert value(found, "pulse_events_total", topic=topic, type=f"clickstream.{kind}") == count
    assert value(found, "pulse_events_duplicate_total", topic=topic) == 1
    assert value(found, "pulse_events_rejected_total", topic=topic, reason="invalid_json") == 2
    assert value(found, "pulse_events_rejected_total", topic=topic, reason="missing_field") == 1
    assert value(found, "pulse_events_rejected_total", topic=topic, reason="wrong_topic") == 1
    for window, expected in (("1h", EXPECTED_1H), ("5m", EXPECTED_5M)):
        for name, number in expected.items():
            got = value(found, name, window=window, property="shop")
            assert got == pytest.approx(number), f"{name}[{window}] = {got}, expected {number}"
    for page, (views, exits) in PAGES_1H.items():
        labels = {"window": "1h", "property": "shop", "page": page}
        assert value(found, "pulse_page_views_by_page", **labels) == views, page
        assert value(found, "pulse_page_exits", **labels) == exits, page
        assert value(found, "pulse_page_exit_ratio", **labels) == pytest.approx(exits / views), page
    hero = {"window": "1h", "property": "shop", "placement": "hero"}
    assert value(found, "pulse_click_through_ratio", **hero) == pytest.approx(0.25)  # 1 / 4
    signup = {"window": "1h", "property": "shop", "goal": "signup"}
    assert value(found, "pulse_conversion_ratio", **signup) == pytest.approx(0.25)  # 1 of 4 visitors
    export = {"window": "1h", "property": "shop", "feature": "export"}
    assert value(found, "pulse_feature_adoption_ratio", **export) == pytest.approx(1.0)  # uc of uc
    assert value(found, "pulse_up") == 1
    promtool_check(promtool, text)
