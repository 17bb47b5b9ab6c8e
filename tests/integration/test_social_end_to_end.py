"""The social family end to end: a known dataset through real Tansu, `pulse worker`, Redis and
`pulse exporter`, with a SIGKILL mid-way; /metrics must equal the hand-computed values."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

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

# Event times are seconds before NOW_S. The test takes well under a minute, so the 5m window
# at scrape time still holds everything up to 200 s old and nothing 600 s old or more.
NOW_S = int(time.time())


def ev(eid: str, kind: str, ago_s: int, platform: str = "instagram", **fields: Any) -> dict[str, Any]:
    return {
        "event_id": eid,
        "type": f"social.{kind}",
        "timestamp": NOW_S - ago_s,
        "property": "brand",
        "platform": platform,
        **fields,
    }


def talk(eid: str, kind: str, ago_s: int, conversation: str) -> tuple[bytes | None, dict[str, Any]]:
    return conversation.encode(), ev(eid, kind, ago_s, "x", conversation_id=conversation)


# Conversations on x: C1 inbound 600 s ago, replies at 480 (120 s) and 300 (ignored);
# C2's reply (100) comes in part one, its inbound (150) in part two: 50 s;
# C3 (inbound 90) is never answered; C5 is answered 10 s after an inbound at 200, then part two
# brings an earlier inbound at 2000: it moves out of 5m and its response becomes 1 810 s.
PART_ONE: list[tuple[bytes | None, Any]] = [
    (None, ev("l1", "like", 100, count=5)),  # no key: re-keyed through the repartition topic
    (b"u1", ev("u1", "unlike", 90, count=2)),
    (b"c1", ev("c1", "comment", 80, count=3)),
    (b"s1", ev("s1", "share", 70)),
    (b"v1", ev("v1", "save", 1200, count=2)),  # 1h only
    (b"k1", ev("k1", "click", 60, count=4)),
    (b"i1", ev("i1", "impression", 110, count=100)),
    (b"i2", ev("i2", "impression", 1300, count=50)),  # 1h only
    (b"u2", ev("u2", "unlike", 50, "x", count=3)),
    (b"i3", ev("i3", "impression", 50, "x", count=10)),
    (b"instagram", ev("f1", "followers", 5400, followers=1000)),
    (b"instagram", ev("f3", "followers", 30, followers=1210)),
    (b"fw1", ev("fw1", "follow", 100, count=5)),
    talk("c1-in", "inbound_message", 600, "conv-1"),
    talk("c1-r1", "reply", 480, "conv-1"),
    talk("c1-r2", "reply", 300, "conv-1"),
    talk("c2-r1", "reply", 100, "conv-2"),
    talk("c5-in", "inbound_message", 200, "conv-5"),
    talk("c5-r1", "reply", 190, "conv-5"),
    (b"m1", ev("m1", "mention", 40, brand="our-brand", own=True)),
    (b"m", b"{not json"),
]
PART_TWO: list[tuple[bytes | None, Any]] = [
    (b"instagram", ev("f2", "followers", 1200, followers=1100)),  # late, out of order
    (b"uf1", ev("uf1", "unfollow", 90)),
    (None, ev("c2-in", "inbound_message", 150, "x", conversation_id="conv-2")),  # no key
    talk("c3-in", "inbound_message", 90, "conv-3"),
    talk("c5-in0", "inbound_message", 2000, "conv-5"),
    talk("c1-r2", "reply", 300, "conv-1"),  # a duplicate
    (b"m2", ev("m2", "mention", 45, brand="our-brand", own=True)),
    (b"m3", ev("m3", "mention", 50, brand="rival", own=False)),
    (b"m4", ev("m4", "mention", 1500, brand="rival", own=False)),  # 1h only
    (b"bad", ev("bad", "followers", 10)),  # no `followers`: missing_field
]
ACCEPTED = 20 + 8  # part one less the bad JSON; part two less the duplicate and the bad event

EXPECTED: dict[tuple[str, str, str], float] = {  # (metric, window, platform or "") -> value
    ("pulse_social_interactions{likes}", "5m", "instagram"): 3,  # 5 − 2
    ("pulse_social_interactions{comments}", "5m", "instagram"): 3,
    ("pulse_social_interactions{shares}", "5m", "instagram"): 1,
    ("pulse_social_interactions{saves}", "5m", "instagram"): 0,
    ("pulse_social_interactions{clicks}", "5m", "instagram"): 4,
    ("pulse_social_interactions{saves}", "1h", "instagram"): 2,
    ("pulse_social_interactions{likes}", "5m", "x"): -3,
    ("pulse_social_impressions", "5m", "instagram"): 100,
    ("pulse_social_impressions", "1h", "instagram"): 150,
    ("pulse_social_engagement_ratio", "5m", "instagram"): 0.11,  # (3 + 3 + 1 + 0 + 4) / 100
    ("pulse_social_engagement_ratio", "1h", "instagram"): 13 / 150,  # (3 + 3 + 1 + 2 + 4) / 150
    ("pulse_social_engagement_ratio", "5m", "x"): -0.3,  # −3 / 10
    ("pulse_social_mentions", "5m", ""): 3,  # m1 m2 m3
    ("pulse_social_own_mentions", "5m", ""): 2,
    ("pulse_social_share_of_voice_ratio", "5m", ""): 2 / 3,
    ("pulse_social_share_of_voice_ratio", "1h", ""): 0.5,  # 2 / 4
    ("pulse_social_follows", "5m", "instagram"): 5,
    ("pulse_social_unfollows", "5m", "instagram"): 1,
    ("pulse_social_followers_at_window_start", "5m", "instagram"): 1100,  # f2 (1200 s ago)
    ("pulse_social_follower_growth_ratio", "5m", "instagram"): 0.1,  # (1210 − 1100) / 1100
    ("pulse_social_followers_at_window_start", "1h", "instagram"): 1000,  # f1 (5400 s ago)
    ("pulse_social_follower_growth_ratio", "1h", "instagram"): 0.21,  # (1210 − 1000) / 1000
    ("pulse_social_inbound_conversations", "5m", "x"): 2,  # C2, C3
    ("pulse_social_replied_conversations", "5m", "x"): 1,  # C2
    ("pulse_social_response_seconds", "5m", "x"): 50,
    ("pulse_social_response_ratio", "5m", "x"): 0.5,
    ("pulse_social_inbound_conversations", "1h", "x"): 4,  # C1, C2, C3, C5
    ("pulse_social_replied_conversations", "1h", "x"): 3,
    ("pulse_social_response_seconds", "1h", "x"): 660,  # (120 + 50 + 1810) / 3
    ("pulse_social_response_ratio", "1h", "x"): 0.75,
}


def _lookup(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], key: tuple[str, str, str]
) -> float | None:
    metric, window, platform = key
    name, _, kind = metric.partition("{")
    labels = {"window": window, "property": "brand"}
    if platform:
        labels["platform"] = platform
    if kind:
        labels["kind"] = kind.rstrip("}")
    return value(found, name, **labels)


def test_social_metrics_exact_through_kafka_redis_and_a_sigkill(
    kafka: EmbeddedKafka,
    redis_server: EmbeddedRedis,
    topic_prefix: str,
    tmp_path: Path,
    promtool: str,
) -> None:
    settings = stack_settings(kafka.url, redis_server.url, topic_prefix)
    topic = settings.topic("social")

    def settled(found: Samples) -> bool:
        return (
            total(found, "pulse_events_total") >= ACCEPTED
            and total(found, "pulse_events_rejected_total") >= 2
        )

    text = run_with_sigkill(
        settings, tmp_path, topic, PART_ONE, PART_TWO, first=1, settled=settled, built_at_s=NOW_S
    )

    found = samples(text)
    assert total(found, "pulse_events_total", topic=topic) == ACCEPTED
    assert value(found, "pulse_events_total", topic=topic, type="social.inbound_message") == 5
    assert value(found, "pulse_events_duplicate_total", topic=topic) == 1
    assert value(found, "pulse_events_rejected_total", topic=topic, reason="invalid_json") == 1
    assert value(found, "pulse_events_rejected_total", topic=topic, reason="missing_field") == 1
    for key, number in EXPECTED.items():
        got = _lookup(found, key)
        assert got == pytest.approx(number), f"{key} = {got}, expected {number}"
    assert value(found, "pulse_social_followers", property="brand", platform="instagram") == 1210
    assert "our-brand" not in text and "rival" not in text and "conv-" not in text
    assert value(found, "pulse_up") == 1
    promtool_check(promtool, text)
