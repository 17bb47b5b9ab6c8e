"""The scenario table: names, neutral steady, one knob turned each, and what the CLI offers."""

from __future__ import annotations

import dataclasses

import pytest

from streams.cli import _parser
from streams.simulation.mix import Traffic
from streams.simulation.plan import Plan
from streams.simulation.scenarios import FAMILIES, SCENARIOS, STEADY

KNOBS = ("rate", "cancel_factor", "unhappy_share", "scanner_share")


def _turned(name: str) -> set[str]:
    scenario = SCENARIOS[name]
    return {k for k in KNOBS if getattr(scenario, k) != getattr(STEADY, k)}


def test_the_table_holds_the_five_scenarios_of_the_issue() -> None:
    assert list(SCENARIOS) == ["steady", "churn-spike", "csat-drop", "bot-clicks", "traffic-surge"]
    assert SCENARIOS["steady"] is STEADY
    assert all(s.name == name and s.summary and s.expect for name, s in SCENARIOS.items())


def test_steady_is_neutral() -> None:
    assert dict(STEADY.rate) == dict.fromkeys(FAMILIES, 1.0)
    assert (STEADY.cancel_factor, STEADY.unhappy_share, STEADY.scanner_share) == (1.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("name", "knob"),
    [
        ("churn-spike", "cancel_factor"),
        ("csat-drop", "unhappy_share"),
        ("bot-clicks", "scanner_share"),
        ("traffic-surge", "rate"),
    ],
)
def test_each_scenario_turns_one_knob(name: str, knob: str) -> None:
    assert _turned(name) == {knob}


def test_the_numbers_of_the_design() -> None:
    assert SCENARIOS["churn-spike"].cancel_factor == 10
    assert SCENARIOS["traffic-surge"].rate["web"] == 5
    assert {f: m for f, m in SCENARIOS["traffic-surge"].rate.items() if m != 1} == {"web": 5}


def test_traffic_surge_raises_the_total_rate_by_the_web_share() -> None:
    traffic = Traffic(1, 0, "traffic-surge", scenario_at_s=10)
    assert traffic.rate_factor(9_999) == 1.0
    assert traffic.rate_factor(10_000) == pytest.approx(0.6 * 5 + 0.4)
    web_only = Traffic(1, 0, "traffic-surge", families=["web"])
    assert web_only.rate_factor(0) == pytest.approx(5.0)
    assert Traffic(1, 0, "traffic-surge", families=["email"]).rate_factor(0) == 1.0


def test_the_scenarios_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        STEADY.cancel_factor = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        STEADY.rate["web"] = 2.0  # type: ignore[index]


def test_the_cli_offers_exactly_the_table() -> None:
    for command in (["simulate"], ["run"]):
        args = _parser().parse_args([*command, "--scenario", "csat-drop", "--scenario-at", "30"])
        assert (args.scenario, args.scenario_at) == ("csat-drop", 30.0)
    with pytest.raises(SystemExit):
        _parser().parse_args(["simulate", "--scenario", "meltdown"])
    args = _parser().parse_args(["simulate", "--families", "web, customer,web"])
    assert args.families == ("web", "customer")
    with pytest.raises(SystemExit):
        _parser().parse_args(["simulate", "--families", "web,fax"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["simulate", "--rate", "0"])


def test_a_plan_refuses_what_cannot_run() -> None:
    with pytest.raises(ValueError, match="rate"):
        Plan(0)
    with pytest.raises(ValueError, match="scenario"):
        Plan(10, scenario="meltdown")
    assert Plan(10, seed=3).seed == 3 and isinstance(Plan(10).seed, int)  # drawn when not given
