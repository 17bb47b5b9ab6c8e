"""The survey family's revised responses: an update replaces the response's answer in place,
counted once, at the response's first submission, whatever the order the versions arrive in.

Times are seconds before N (= NOW_S, an exact hour), as in tests/unit/test_survey_family.py,
with which they share the answers and the worker (tests/unit/survey_support.py).
"""

from __future__ import annotations

import itertools

from tests.unit.conftest import HOUR_S
from tests.unit.survey_support import (
    N,
    Surveys,
    ces_answer,
    csat_answer,
    get,
    nps_answer,
    nps_counts,
    survey_samples,
)

# --- revisions in place, anchored to the first submission


async def test_an_update_arriving_before_the_original_still_wins() -> None:
    pulse = Surveys()
    await pulse.feed(nps_answer("upd", N - 60, "r1", 3))  # the update (later event time) first
    await pulse.feed(nps_answer("orig", N - 200, "r1", 10))  # then the original
    scrape = pulse.scrape()
    assert nps_counts(scrape, "5m") == (0, 0, 1)  # the later version (3) wins: a detractor
    assert get(scrape, "pulse_nps_score", "5m") == -100.0  # 100 · (0 − 1) / 1


async def test_an_update_moves_the_category_and_keeps_the_total() -> None:
    pulse = Surveys()
    await pulse.feed(nps_answer("orig", N - 200, "r1", 10), nps_answer("x", N - 150, "r2", 8))
    before = pulse.scrape()
    assert nps_counts(before, "5m") == (1, 1, 0)
    assert get(before, "pulse_nps_score", "5m") == 50.0  # 100 · (1 − 0) / 2
    await pulse.feed(nps_answer("upd", N - 60, "r1", 2))
    after = pulse.scrape()
    assert nps_counts(after, "5m") == (0, 1, 1)  # promoter -> detractor
    assert get(after, "pulse_nps_score_sample_size", "5m") == 2  # total unchanged
    assert get(after, "pulse_nps_score", "5m") == -50.0  # 100 · (0 − 1) / 2


async def test_an_update_two_hours_later_stays_at_the_first_submission() -> None:
    pulse = Surveys()
    await pulse.feed(csat_answer("orig", N - 2 * HOUR_S - 60, "r1", 2))
    await pulse.feed(csat_answer("upd", N - 60, "r1", 5))
    scrape = pulse.scrape()
    assert get(scrape, "pulse_csat_responses", "24h") == 1  # anchored at N-7260: 24h only
    assert get(scrape, "pulse_csat_positive_responses", "24h") == 1  # with the update's 5
    assert get(scrape, "pulse_csat_ratio", "24h") == 1.0
    for window in ("5m", "1h"):  # not counted again where the update happened
        assert get(scrape, "pulse_csat_responses", window) == 0
        assert get(scrape, "pulse_csat_ratio_sample_size", window) == 0
        assert get(scrape, "pulse_csat_ratio", window) is None  # 0 responses: no ratio
        assert get(scrape, "pulse_csat_ratio_lower", window) is None


async def test_an_older_version_arriving_late_moves_the_anchor() -> None:
    pulse = Surveys()
    await pulse.feed(ces_answer("upd", N - 100, "r1", 6))
    assert get(pulse.scrape(), "pulse_ces_responses", "5m") == 1  # anchored at N-100 so far
    await pulse.feed(ces_answer("orig", N - 1000, "r1", 2))  # the first submission, late
    scrape = pulse.scrape()
    assert get(scrape, "pulse_ces_responses", "5m") == 0  # moved to N-1000: out of 5m
    assert get(scrape, "pulse_ces_score", "5m") is None
    assert get(scrape, "pulse_ces_responses", "1h") == 1
    assert get(scrape, "pulse_ces_score", "1h") == 6.0  # the latest version's score


async def test_duplicates_and_stale_replays_never_count_twice() -> None:
    pulse = Surveys()
    first = await pulse.feed(nps_answer("a", N - 200, "r1", 9), nps_answer("a", N - 200, "r1", 9))
    assert (first.applied, first.duplicates) == (1, 1)
    # the same version again under a new event id (a re-sent webhook), and a stale version
    await pulse.feed(nps_answer("a-again", N - 200, "r1", 9), nps_answer("old", N - 250, "r1", 9))
    scrape = pulse.scrape()
    assert nps_counts(scrape, "5m") == (1, 0, 0)
    assert get(scrape, "pulse_nps_score_sample_size", "5m") == 1


async def test_versions_in_one_batch() -> None:
    pulse = Surveys()
    await pulse.feed(
        nps_answer("v2", N - 100, "r1", 7),
        nps_answer("v1", N - 200, "r1", 0),
        nps_answer("v3", N - 50, "r1", 10),
    )
    assert nps_counts(pulse.scrape(), "5m") == (1, 0, 0)  # v3 wins, anchored at v1 (N-200)


REVISED = [
    nps_answer("n1", N - 200, "r1", 10),
    nps_answer("n2", N - 4000, "r1", 6),  # the first submission (1h: no; 24h: yes)
    nps_answer("n3", N - 100, "r1", 8),  # the latest: a passive
    csat_answer("c1", N - 120, "r2", 3),
    csat_answer("c2", N - 110, "r2", 5, survey_id="post-support"),  # moves r2 to another survey
]


async def test_every_arrival_order_gives_the_same_scrape() -> None:
    reference = Surveys()
    await reference.feed(*REVISED)
    expected = survey_samples(reference.scrape())
    assert nps_counts(reference.scrape(), "24h") == (0, 1, 0)  # n3, anchored at N-4000
    assert nps_counts(reference.scrape(), "1h") == (0, 0, 0)
    assert get(reference.scrape(), "pulse_csat_ratio", "5m", "post-support") == 1.0
    assert get(reference.scrape(), "pulse_csat_responses", "5m") is None  # r2 left "default"
    for order in itertools.permutations(REVISED):
        pulse = Surveys()
        await pulse.feed_each(order)
        assert survey_samples(pulse.scrape()) == expected


async def test_equal_event_times_break_the_same_way_in_any_order() -> None:
    a, b = nps_answer("tie-a", N - 60, "r1", 10), nps_answer("tie-b", N - 60, "r1", 0)
    one, two = Surveys(), Surveys()
    await one.feed_each([a, b])
    await two.feed_each([b, a])
    assert survey_samples(one.scrape()) == survey_samples(two.scrape())
    assert get(one.scrape(), "pulse_nps_score_sample_size", "5m") == 1


async def test_one_response_answers_several_types() -> None:
    pulse = Surveys()
    await pulse.feed(
        nps_answer("n", N - 60, "r1", 9),
        csat_answer("c", N - 4000, "r1", 1),  # the response's first submission
        ces_answer("e", N - 30, "r1", 2),
    )
    scrape = pulse.scrape()
    assert nps_counts(scrape, "1h") == (0, 0, 0)  # all three answers anchored at N-4000
    assert nps_counts(scrape, "24h") == (1, 0, 0)
    assert get(scrape, "pulse_csat_responses", "24h") == 1
    assert get(scrape, "pulse_ces_score", "24h") == 2.0
