"""Each scenario moves its gauge the intended way: two hours of steady traffic, then one hour of
the scenario, through the pure core (classify → Applier → MemoryStore → PulseCollector); the
1h window is read at the cue (steady) and an hour later (the scenario alone)."""

from __future__ import annotations

import re

import pytest

from streams.simulation.mix import Traffic
from streams.simulation.scenarios import FAMILIES, SCENARIOS
from tests.unit.conftest import NOW_MS, Scrape
from tests.unit.simulation.core import HOUR_MS, Core, drive
from tests.unit.test_all_families_scrape import DESIGN_GAUGES

CUE_MS = NOW_MS - HOUR_MS  # steady from NOW − 3h to the cue, the scenario from the cue to NOW
START_MS = CUE_MS - 2 * HOUR_MS
W = {"window": "1h", "property": "shop"}


def before_and_after(scenario: str, family: str, rate: float = 2.0, seed: int = 7) -> tuple[Scrape, Scrape]:
    core = Core()
    traffic = Traffic(
        seed=seed, start_ms=START_MS, scenario=scenario, scenario_at_s=2 * 3600, families=[family]
    )
    drive(core, traffic, START_MS, CUE_MS, rate)
    before = core.scrape(CUE_MS)
    drive(core, traffic, CUE_MS, NOW_MS, rate)
    return before, core.scrape(NOW_MS)


def nps(scrape: Scrape) -> float:
    """NPS over every survey of the 1h window, from the category counts."""
    counts = {c: 0.0 for c in ("promoter", "passive", "detractor")}
    for labels in scrape.names("pulse_nps_responses"):
        if labels["window"] == "1h":
            counts[labels["category"]] += scrape.value("pulse_nps_responses", **labels)
    return 100 * (counts["promoter"] - counts["detractor"]) / sum(counts.values())


def churned(scrape: Scrape) -> float:
    return sum(
        scrape.value("pulse_churned_customers", **labels)
        for labels in scrape.names("pulse_churned_customers")
        if labels["window"] == "1h"
    )


def test_churn_spike_raises_churn() -> None:
    before, after = before_and_after("churn-spike", "customer")
    churn_before, churn_after = (s.value("pulse_churn_ratio", **W) for s in (before, after))
    assert 0 < churn_before < 0.15  # a low base rate
    assert churn_after > 2.5 * churn_before
    assert churned(after) > 5 * churned(before)
    assert after.value("pulse_retention_ratio", **W) < before.value("pulse_retention_ratio", **W) - 0.1


def test_csat_drop_lowers_csat_nps_and_ces() -> None:
    before, after = before_and_after("csat-drop", "survey")
    support = {**W, "survey": "support-csat"}
    csat_before, csat_after = (s.value("pulse_csat_ratio", **support) for s in (before, after))
    assert 0.7 < csat_before < 0.9  # CSAT ~80 % in steady
    assert csat_after < csat_before - 0.25
    assert 25 < nps(before) < 55  # NPS ~40 in steady
    assert nps(after) < nps(before) - 40
    ces_before, ces_after = (s.value("pulse_ces_score", **support) for s in (before, after))
    assert ces_after < ces_before - 1


def test_bot_clicks_raise_opens_and_raw_clicks_but_not_human_engagement() -> None:
    before, after = before_and_after("bot-clicks", "email")
    ratio = {name: [s.value(f"pulse_email_{name}_ratio", **W) for s in (before, after)]
             for name in ("open", "human_open", "click_to_open", "delivery")}  # fmt: skip
    assert ratio["open"][1] > ratio["open"][0] + 0.2  # machine opens by the scanners
    assert ratio["click_to_open"][1] < 0.75 * ratio["click_to_open"][0]  # clicks over machine-inflated opens
    assert 0.95 < ratio["delivery"][0] < 0.99  # ~97 % delivered
    for flat in ("human_open", "click_through"):  # flat: the 95 % intervals overlap
        low_before, high_before, low_after, high_after = (
            s.value(f"pulse_email_{flat}_ratio_{bound}", **W)
            for s in (before, after)
            for bound in ("lower", "upper")
        )
        assert low_after <= high_before and low_before <= high_after, flat
    clicks = {"topic": "email", "type": "email.clicked"}
    clicks_2h, clicks_3h = (s.value("pulse_events_total", **clicks) for s in (before, after))
    assert clicks_3h - clicks_2h > 5 * clicks_2h / 2  # raw clicks per hour: bot clicks count there


def test_traffic_surge_multiplies_page_views() -> None:
    before, after = before_and_after("traffic-surge", "web")
    for name in ("pulse_page_views", "pulse_sessions", "pulse_unique_visitors"):
        assert after.value(name, **W) > 4 * before.value(name, **W), name
    assert 0.3 < before.value("pulse_bounce_ratio", **W) < 0.5  # ~40 % bounce in steady
    assert after.value("pulse_bounce_ratio", **W) == pytest.approx(
        before.value("pulse_bounce_ratio", **W), abs=0.1
    )


def test_steady_traffic_of_every_family_serves_every_design_gauge_and_the_named_ones() -> None:
    """Two hours of the whole mix: every DESIGN §5 gauge is there in the 1h window, and every
    gauge a scenario's `expect` names exists, so the table cannot point at a renamed metric."""
    core = Core()
    drive(
        core,
        Traffic(seed=3, start_ms=NOW_MS - 2 * HOUR_MS, families=FAMILIES),
        NOW_MS - 2 * HOUR_MS,
        NOW_MS,
        6,
    )
    scrape = core.scrape(NOW_MS)
    served = {name for name, _ in scrape.samples}
    one_hour = {name for (name, labels) in scrape.samples if ("window", "1h") in labels}
    missing = [g for g in DESIGN_GAUGES if g not in one_hour]
    assert not missing, missing
    named = {m for s in SCENARIOS.values() for m in re.findall(r"pulse_[a-z_]+", s.expect)}
    assert named and named <= served, named - served
