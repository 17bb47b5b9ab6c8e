"""The survey family end to end: updates out of order, duplicates and a SIGKILL through real Tansu,
`pulse worker`, Redis and `pulse exporter`; /metrics must equal the hand-computed values."""

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

NOW_S = int(time.time())  # every event sits well inside its windows for minutes after this


def answer(kind: str, eid: str, ago_s: int, rid: str, score: int, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": eid,
        "type": f"survey.{kind}",
        "timestamp": NOW_S - ago_s,
        "property": "shop",
        "response_id": rid,
        "score": score,
        **fields,
    }


REL = {"survey_id": "relationship"}
ONB = {"survey_id": "onboarding"}

# Part one carries updates BEFORE their originals; part two the originals, a duplicate, more
# updates and answers. NPS survey "relationship": r1 is first submitted 50 min ago (9) and
# updated a minute ago (3); r5 goes 0 -> 10; r4 is sent without a key (re-keyed).
# CSAT (no survey_id: "default"): c2 is submitted 105 s ago (3) and updated to 4.
# CES survey "onboarding": e2 goes 5 -> 6 (the update delivered twice).
PART_ONE: list[tuple[bytes | None, Any]] = [
    (b"r1", answer("nps", "n1-upd", 60, "r1", 3, **REL)),
    (b"r2", answer("nps", "n2", 120, "r2", 10, **REL)),
    (b"r3", answer("nps", "n3", 100, "r3", 7, **REL)),
    (None, answer("nps", "n4", 90, "r4", 10, **REL)),
    (b"r5", answer("nps", "n5", 80, "r5", 0, **REL)),
    (b"c2", answer("csat", "s2-upd", 50, "c2", 4)),
    (b"c1", answer("csat", "s1", 110, "c1", 5)),
    (b"e1", answer("ces", "e1", 130, "e1", 2, **ONB)),
    (b"e2", answer("ces", "e2", 125, "e2", 5, **ONB)),
    (b"r9", b"not json"),
]
PART_TWO: list[tuple[bytes | None, Any]] = [
    (b"r1", answer("nps", "n1", 3000, "r1", 9, **REL)),
    (b"r3", answer("nps", "n3", 100, "r3", 7, **REL)),  # a duplicate (same event_id)
    (b"r5", answer("nps", "n5-upd", 70, "r5", 10, **REL)),
    (b"c2", answer("csat", "s2", 105, "c2", 3)),
    (b"c3", answer("csat", "s3", 100, "c3", 8, scale_max=10)),
    (None, answer("csat", "s4", 2000, "c4", 2)),
    (b"e2", answer("ces", "e2-upd", 40, "e2", 6, **ONB)),
    (b"e2", answer("ces", "e2-upd", 40, "e2", 6, **ONB)),  # a duplicate
    (b"e3", answer("ces", "e3", 2500, "e3", 7, **ONB)),
    (b"r9", answer("nps", "bad", 10, "r9", 11)),  # out_of_range
]
ACCEPTED = {
    "nps": 7,
    "csat": 5,
    "ces": 4,
}  # n1-upd n2 n3 n4 n5 n1 n5-upd; s2-upd s1 s2 s3 s4; e1 e2 e2-upd e3

# 5m: r2 (10), r4 (10), r5 (10 after the update) promoters; r3 (7) passive; r1 is anchored at
# its first submission, 50 min ago. 1h adds r1 with its latest score (3): a detractor.
NPS = {
    #      (promoters, passives, detractors, score, lower, upper)
    # 100·3/4 = 75; var = .75 − .75² = .1875; 195.9964·sqrt(.1875/4) = 42.4345: 32.5655 .. 117 -> 100
    "5m": (3, 1, 0, 75.0, 32.5655, 100.0),
    # 100·(3−1)/5 = 40; var = .8 − .4² = .64; 195.9964·sqrt(.64/5) = 70.1218: −30.1218 .. 110 -> 100
    "1h": (3, 1, 1, 40.0, -30.1218, 100.0),
}
# 5m: c1 (5 of 5: positive), c2 (4 after the update: positive, anchored 105 s ago), c3 (8 of 10:
# not); 1h adds c4 (2 of 5). Wilson(2, 3): centre 2/3 + z²/6 = 1.306910, spread .833345,
# scale 2.280486 -> (.207660, .938508); Wilson(2, 4): (.980182 ∓ .686051) / 1.960365 -> (.150039, .849961)
CSAT = {"5m": (3, 2, 2 / 3, 0.207660, 0.938508), "1h": (4, 2, 0.5, 0.150039, 0.849961)}
# 5m: e1 (2), e2 (6 after the update): (2 + 6) / 2 = 4; 1h adds e3 (7): 15 / 3 = 5
CES = {"5m": (2, 4.0), "1h": (3, 5.0)}


def _check_values(found: Samples) -> None:
    for window, (p, n, d, score, lower, upper) in NPS.items():
        rel = {"window": window, "property": "shop", "survey": "relationship"}
        for category, count in (("promoter", p), ("passive", n), ("detractor", d)):
            assert value(found, "pulse_nps_responses", category=category, **rel) == count, (window, category)
        assert value(found, "pulse_nps_score_sample_size", **rel) == p + n + d
        assert value(found, "pulse_nps_score", **rel) == pytest.approx(score)
        assert value(found, "pulse_nps_score_lower", **rel) == pytest.approx(lower, abs=1e-4)
        assert value(found, "pulse_nps_score_upper", **rel) == pytest.approx(upper, abs=1e-4)
    for window, (responses, positive, ratio, lower, upper) in CSAT.items():
        default = {"window": window, "property": "shop", "survey": "default"}
        assert value(found, "pulse_csat_responses", **default) == responses
        assert value(found, "pulse_csat_positive_responses", **default) == positive
        assert value(found, "pulse_csat_ratio", **default) == pytest.approx(ratio)
        assert value(found, "pulse_csat_ratio_sample_size", **default) == responses
        assert value(found, "pulse_csat_ratio_lower", **default) == pytest.approx(lower, abs=1e-5)
        assert value(found, "pulse_csat_ratio_upper", **default) == pytest.approx(upper, abs=1e-5)
        assert value(found, "pulse_nps_score_sample_size", **default) is None  # no NPS in "default"
    for window, (responses, mean) in CES.items():
        onb = {"window": window, "property": "shop", "survey": "onboarding"}
        assert value(found, "pulse_ces_responses", **onb) == responses
        assert value(found, "pulse_ces_score", **onb) == pytest.approx(mean)


def test_survey_metrics_exact_through_kafka_redis_and_a_sigkill(
    kafka: EmbeddedKafka,
    redis_server: EmbeddedRedis,
    topic_prefix: str,
    tmp_path: Path,
    promtool: str,
) -> None:
    settings = stack_settings(kafka.url, redis_server.url, topic_prefix)
    topic = settings.topic("survey")

    def settled(found: Samples) -> bool:  # every event and both duplicates
        everything = total(found, "pulse_events_total") >= sum(ACCEPTED.values())
        return everything and total(found, "pulse_events_duplicate_total") >= 2

    text = run_with_sigkill(
        settings, tmp_path, topic, PART_ONE, PART_TWO, first=9, settled=settled, built_at_s=NOW_S
    )

    found = samples(text)
    for kind, count in ACCEPTED.items():
        assert value(found, "pulse_events_total", topic=topic, type=f"survey.{kind}") == count
    assert value(found, "pulse_events_duplicate_total", topic=topic) == 2
    assert value(found, "pulse_events_rejected_total", topic=topic, reason="invalid_json") == 1
    assert value(found, "pulse_events_rejected_total", topic=topic, reason="out_of_range") == 1
    _check_values(found)
    assert value(found, "pulse_up") == 1
    promtool_check(promtool, text)
