"""What each scenario changes: one table, read by the generators at every decision.

A scenario starts on cue (`--scenario-at`, seconds after the start; 0 by default) and lasts
until the simulation stops. Before its cue the traffic is exactly the `steady` traffic of the
same seed, so a dashboard shows the shift at a known moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

FAMILIES = ("web", "email", "social", "survey", "customer")  # as `--families` names them


def _rates(**multipliers: float) -> Mapping[str, float]:
    return MappingProxyType({family: multipliers.get(family, 1.0) for family in FAMILIES})


@dataclass(frozen=True)
class Scenario:
    """The knobs a scenario turns; `steady` leaves every one at its neutral value."""

    name: str
    summary: str  # what it does, for `--help` and the docs
    expect: str  # which gauge moves, and which way
    rate: Mapping[str, float] = field(default_factory=_rates)  # events/s multiplier per family
    cancel_factor: float = 1.0  # multiplies the share of customer actions that are cancellations
    unhappy_share: float = 0.0  # survey respondents answering from the unhappy distributions
    scanner_share: float = 0.0  # delivered e-mails a link scanner fetches (machine open) and clicks (bot)


STEADY = Scenario(
    "steady",
    "the baseline: every family at its usual mix and rates",
    "every gauge near its usual level",
)

SCENARIOS: Mapping[str, Scenario] = MappingProxyType(
    {
        s.name: s
        for s in (
            STEADY,
            Scenario(
                "churn-spike",
                "cancellations ×10 (a failed-payment wave and unhappy customers)",
                "pulse_churn_ratio and pulse_churned_customers up; retention down",
                cancel_factor=10.0,
            ),
            Scenario(
                "csat-drop",
                "half of the survey respondents answer from the unhappy distributions (NPS 0-6, CSAT 1-3)",
                "pulse_csat_ratio, pulse_nps_score and pulse_ces_score down",
                unhappy_share=0.5,
            ),
            Scenario(
                "bot-clicks",
                "link scanners fetch 40 % of delivered e-mails: a machine open and bot clicks within seconds",
                "pulse_email_open_ratio up; human open and click-through ratios flat; raw clicks up",
                scanner_share=0.4,
            ),
            Scenario(
                "traffic-surge",
                "web traffic ×5 (a campaign or a mention on a big site)",
                "pulse_page_views, pulse_sessions and pulse_unique_visitors up about ×5",
                rate=_rates(web=5.0),
            ),
        )
    }
)
