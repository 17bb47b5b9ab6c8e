"""Pulse / Surveys: NPS with its margin of error, CSAT with its Wilson interval, CES; per survey."""

from __future__ import annotations

from typing import Any

from deploy.dashboards.panels import SEL, WINDOW, band, evidence, property_variable
from deploy.grafana_kit import Grid, Q, dashboard, row, series, stat, variable


def survey() -> dict[str, Any]:
    one = ',survey="$survey"'
    grid = Grid().add(row("Survey $survey"))
    grid.add(
        evidence("NPS", "pulse_nps_score", one, n="answers", unit="none"),
        evidence("CSAT", "pulse_csat_ratio", one, n="answers"),
        stat(
            "CES",
            [Q(f"pulse_ces_score{{{SEL}{one}}}", "CES"), Q(f"pulse_ces_responses{{{SEL}{one}}}", "n")],
            "none",
            "Customer Effort Score: the mean answer, 1..7.",
        ),
    )
    grid.add(
        band("NPS", "pulse_nps_score", "NPS", one, unit="none"),
        series(
            "NPS answers by category",
            [Q(f"pulse_nps_responses{{{SEL}{one}}}", "{{category}}")],
            "short",
            "Promoters (9-10), passives (7-8) and detractors (0-6).",
            stacked=True,
        ),
        band("CSAT", "pulse_csat_ratio", "CSAT", one),
        series(
            "CSAT answers",
            [
                Q(f"pulse_csat_responses{{{SEL}{one}}}", "answers"),
                Q(f"pulse_csat_positive_responses{{{SEL}{one}}}", "top-2-box"),
            ],
            "short",
            "Answers, and those in the top two boxes of their scale.",
            minimum=0,
        ),
    )
    return dashboard(
        "pulse-survey",
        "Pulse / Surveys",
        "Surveys: NPS with its margin of error, CSAT with its Wilson interval, CES; per survey.",
        grid,
        [
            WINDOW,
            property_variable("pulse_csat_responses"),
            variable(
                "survey",
                'label_values({__name__=~"pulse_(nps|csat|ces)_responses",property="$property"}, survey)',
                "Survey",
            ),
        ],
    )
