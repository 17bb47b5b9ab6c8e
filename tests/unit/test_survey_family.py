"""The survey family on the pure path: classify -> Applier -> MemoryStore -> PulseCollector.

Times are seconds before N (= NOW_S, an exact hour). Windows 5m (N-300, N], 1h (N-3600, N]
and 24h (N-86400, N]; no event sits within a bucket of a window's far edge, so no blur is
involved. Every expected number is worked out by hand in a comment.

Here: the formulas, the worked examples end to end, and the exposition (labels, zero counts,
no personal data). Revised responses are in tests/unit/test_survey_revisions.py; both share
the answers and the worker (tests/unit/survey_support.py).
"""

from __future__ import annotations

import subprocess

import pytest

from metrics_core.batch import classify
from metrics_core.exposition.survey import nps_interval
from metrics_core.families.base import Context
from metrics_core.families.changes import Changes
from metrics_core.families.survey import SurveyFamily, response_entity
from metrics_core.formulas import nps, nps_margin, wilson_interval
from metrics_core.labels import LabelCap
from metrics_core.routing import routing_key
from tests.unit.conftest import HOUR_S, NOW_MS, records
from tests.unit.survey_support import (
    RETENTION_MS,
    N,
    Surveys,
    ces_answer,
    csat_answer,
    get,
    nps_answer,
    nps_counts,
)

# --- the formulas, with the worked examples


def test_nps_worked_example() -> None:
    assert nps(70, 24, 6) == 64.0  # 100 · (70 − 6) / 100


def test_nps_margin_of_error_by_hand() -> None:
    # P = .70, D = .06: var = P + D − (P − D)² = .76 − .64² = .76 − .4096 = .3504
    # margin = 100 · 1.959964 · sqrt(.3504 / 100) = 100 · 1.959964 · .0591946 = 11.6019
    assert nps_margin(70, 24, 6) == pytest.approx(11.6019, abs=1e-4)
    assert nps_interval(70, 24, 6) == pytest.approx((52.3981, 75.6019), abs=1e-4)  # 64 ∓ 11.6019
    # 3 promoters, 1 passive, 1 detractor: NPS 100 · 2 / 5 = 40; P = .6, D = .2,
    # var = .8 − .4² = .64; margin = 195.9964 · sqrt(.64 / 5) = 195.9964 · .357771 = 70.1218
    assert nps_margin(3, 1, 1) == pytest.approx(70.1218, abs=1e-4)
    assert nps_interval(3, 1, 1) == pytest.approx((-30.1218, 100.0), abs=1e-4)  # 110.12 clamped
    # 1 promoter, 3 detractors: NPS −50; var = 1 − (−.5)² = .75; 195.9964 · sqrt(.1875) = 84.8689
    assert nps_interval(1, 0, 3) == pytest.approx((-100.0, 34.8689), abs=1e-4)  # −134.87 clamped
    assert nps_interval(0, 0, 0) is None


def test_csat_wilson_interval_by_hand() -> None:
    # p = 7/12 = .583333, z² = 3.841459; centre = p + z²/24 = .583333 + .160061 = .743394
    # spread = z · sqrt(p(1 − p)/12 + z²/576) = 1.959964 · sqrt(.020255 + .006669) = .321602
    # scale = 1 + z²/12 = 1.320122: (.743394 ∓ .321602) / 1.320122 = (.31951, .80674)
    assert wilson_interval(7, 12) == pytest.approx((0.31951, 0.80674), abs=1e-4)


# --- the worked examples end to end


async def test_nps_64_from_70_promoters_24_passives_6_detractors() -> None:
    scores = [9, 10] * 35 + [7, 8] * 12 + [0, 2, 4, 5, 6, 6]  # 70 + 24 + 6 = 100
    pulse = Surveys()
    await pulse.feed(*(nps_answer(f"e{i}", N - 200 + i, f"r{i}", s) for i, s in enumerate(scores)))
    scrape = pulse.scrape()
    for window in ("5m", "1h", "24h"):
        assert nps_counts(scrape, window) == (70, 24, 6)
        assert get(scrape, "pulse_nps_score", window) == 64.0
        assert get(scrape, "pulse_nps_score_sample_size", window) == 100
        assert get(scrape, "pulse_nps_score_lower", window) == pytest.approx(52.3981, abs=1e-4)
        assert get(scrape, "pulse_nps_score_upper", window) == pytest.approx(75.6019, abs=1e-4)


async def test_csat_7_positive_of_12() -> None:
    scores = [5, 5, 4, 4, 5, 4, 4, 3, 2, 1, 3, 1]  # 7 in the top two boxes (4-5) of 5
    pulse = Surveys()
    await pulse.feed(*(csat_answer(f"e{i}", N - 100, f"r{i}", s) for i, s in enumerate(scores)))
    scrape = pulse.scrape()
    assert get(scrape, "pulse_csat_responses", "5m") == 12
    assert get(scrape, "pulse_csat_positive_responses", "5m") == 7
    assert get(scrape, "pulse_csat_ratio", "5m") == pytest.approx(0.583333, abs=1e-6)  # 58.33 %
    assert get(scrape, "pulse_csat_ratio_sample_size", "5m") == 12
    assert get(scrape, "pulse_csat_ratio_lower", "5m") == pytest.approx(0.31951, abs=1e-4)
    assert get(scrape, "pulse_csat_ratio_upper", "5m") == pytest.approx(0.80674, abs=1e-4)


@pytest.mark.parametrize(("scale_max", "positive"), [(5, 2), (7, 2), (10, 2)])
async def test_csat_top_two_box_of_each_scale(scale_max: int, positive: int) -> None:
    # one answer of every point 1..scale_max: exactly the top two are positive
    pulse = Surveys()
    await pulse.feed(
        *(csat_answer(f"e{s}", N - 60, f"r{s}", s, scale_max=scale_max) for s in range(1, scale_max + 1))
    )
    scrape = pulse.scrape()
    assert get(scrape, "pulse_csat_responses", "5m") == scale_max
    assert get(scrape, "pulse_csat_positive_responses", "5m") == positive
    assert get(scrape, "pulse_csat_ratio", "5m") == pytest.approx(positive / scale_max)  # .4, .2857, .2


async def test_csat_mixed_scales_and_the_default_scale() -> None:
    pulse = Surveys()
    await pulse.feed(
        csat_answer("a", N - 60, "r1", 4),  # no scale_max: 5, so 4 is top-2
        csat_answer("b", N - 60, "r2", 5, scale_max=7),  # 5 of 7: not top-2 (6-7)
        csat_answer("c", N - 60, "r3", 9, scale_max=10),  # top-2
        csat_answer("d", N - 60, "r4", 8, scale_max=10),  # not
    )
    scrape = pulse.scrape()
    assert get(scrape, "pulse_csat_positive_responses", "5m") == 2  # a, c
    assert get(scrape, "pulse_csat_ratio", "5m") == 0.5  # 2 / 4


async def test_ces_is_the_mean_of_1_to_7() -> None:
    pulse = Surveys()
    await pulse.feed(*(ces_answer(f"e{s}", N - 60, f"r{s}", s) for s in range(1, 8)))
    scrape = pulse.scrape()
    assert get(scrape, "pulse_ces_responses", "5m") == 7
    assert get(scrape, "pulse_ces_score", "5m") == 4.0  # (1 + 2 + ... + 7) / 7 = 28 / 7


# --- exposition: labels, zero counts, no personal data


async def test_quiet_windows_export_zero_counts_and_no_scores() -> None:
    pulse = Surveys()
    await pulse.feed(nps_answer("old", N - 2 * HOUR_S, "r1", 9), ces_answer("c", N - 60, "r2", 3))
    scrape = pulse.scrape()
    assert nps_counts(scrape, "5m") == (0, 0, 0)
    assert get(scrape, "pulse_nps_score_sample_size", "5m") == 0
    for name in ("pulse_nps_score", "pulse_nps_score_lower", "pulse_nps_score_upper"):
        assert get(scrape, name, "5m") is None
    assert get(scrape, "pulse_nps_score", "24h") == 100.0
    assert get(scrape, "pulse_nps_score_lower", "24h") == 100.0  # unanimous: margin 0
    assert scrape.names("pulse_csat_responses") == []  # no CSAT answers anywhere: no CSAT gauges
    assert get(scrape, "pulse_ces_responses", "24h") == 1


async def test_survey_labels_are_sanitised_defaulted_and_capped() -> None:
    pulse = Surveys(label_cap=2)  # shard-side cap: 2 survey values
    await pulse.feed(
        nps_answer("a", N - 60, "r1", 10),  # no survey_id: "default"
        nps_answer("b", N - 60, "r2", 0, survey_id="ann@example.com q3"),
        nps_answer("c", N - 60, "r3", 8, survey_id="third"),  # over the cap: __other__
    )
    scrape = pulse.scrape()
    assert nps_counts(scrape, "5m") == (1, 0, 0)
    assert nps_counts(scrape, "5m", "<email> q3") == (0, 0, 1)
    assert nps_counts(scrape, "5m", "__other__") == (0, 1, 0)
    assert {labels["survey"] for labels in scrape.names("pulse_nps_score")} == {
        "default",
        "<email> q3",
        "__other__",
    }
    capped = pulse.scrape(label_cap=1)  # exporter-side: keep the heaviest (ties by name)
    assert nps_counts(capped, "5m", "<email> q3") == (0, 0, 1)  # 1 response each; "<" sorts first
    assert nps_counts(capped, "5m", "__other__") == (1, 1, 0)  # default + third
    assert nps_counts(capped, "5m") == (None, None, None)


async def test_state_holds_no_ids_and_expires_with_the_first_submission() -> None:
    family, changes = SurveyFamily(), Changes()
    ctx = Context(NOW_MS, RETENTION_MS, 0, LabelCap(500))
    pulse = Surveys()
    values = [
        nps_answer("evt@x.io", N - 500, "ann@example.com", 9),
        nps_answer("e2", N - 60, "ann@example.com", 3),
    ]
    plan = classify(records(values), "survey", 0, None, NOW_MS, RETENTION_MS, 65_536, routing_key)
    events = [e for _, e in plan.events]
    family.apply(events, {}, ctx, changes)
    (key, (raw, expire_at_ms)), *others = changes.states.items()
    assert others == [] and key == response_entity(events[0])
    assert raw is not None and b"ann" not in raw and b"evt" not in raw and b"example" not in key.encode()
    assert expire_at_ms == (N - 500) * 1000 + RETENTION_MS  # first submission + 25 h
    await pulse.feed(*values)
    assert nps_counts(pulse.scrape(), "1h") == (0, 0, 1)  # the update (3) at the anchor N-500


async def test_a_state_past_retention_is_a_new_response() -> None:
    pulse = Surveys()  # MemoryStore does not expire states; the family ignores stale ones
    await pulse.feed(nps_answer("a", N - 60, "r1", 10))
    later_ms = NOW_MS + RETENTION_MS + 60_000
    await pulse.feed(nps_answer("b", (later_ms // 1000) - 30, "r1", 0), now_ms=later_ms)
    scrape = pulse.scrape(now_ms=later_ms)
    assert nps_counts(scrape, "5m") == (0, 0, 1)  # counted afresh; the old anchor is out of every window


def _promtool_check(promtool: str, text: str) -> None:
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


async def test_hostile_survey_ids_pass_promtool(promtool: str) -> None:
    hostile = [
        'say "hi"',
        "back\\slash\\",
        "new\nline\ttab",
        "uni\u2028code é 日本語 \u200b",
        "}{=,",
        "x" * 256,
    ]
    pulse = Surveys()
    await pulse.feed(
        *(nps_answer(f"n{i}", N - 60, f"r{i}", i, survey_id=s, property=s) for i, s in enumerate(hostile)),
        *(csat_answer(f"c{i}", N - 60, f"c{i}", 5, survey_id=s) for i, s in enumerate(hostile)),
        *(ces_answer(f"e{i}", N - 60, f"e{i}", 3, survey_id=s) for i, s in enumerate(hostile)),
    )
    text = pulse.scrape().text
    _promtool_check(promtool, text)
    assert len({labels["survey"] for labels in pulse.scrape().names("pulse_ces_score")}) == len(hostile)
