"""Pulse / Overview: the headline KPIs with their evidence and history, the alerts, the pipeline."""

from __future__ import annotations

from typing import Any

from deploy.dashboards.panels import WINDOW, count, evidence
from deploy.grafana_kit import Grid, Q, dashboard, row, series, stat, table, variable


def overview() -> dict[str, Any]:
    kpi = 'window="$window",property="$property"'
    grid = Grid().add(row("Headline KPIs: $window, property $property"))
    grid.add(
        stat(
            "Churn",
            [
                Q(f"pulse_churn_ratio{{{kpi}}}", "Churn"),
                Q(f"pulse_churn_ratio_sample_size{{{kpi}}}", "n"),
            ],
            "percentunit",
            "Churned / customers active at the window start (n). No interval: a customer may churn twice.",
        ),
        stat(
            "CSAT",
            [
                Q(f"window_property:pulse_csat_ratio:ratio{{{kpi}}}", "CSAT"),
                Q(f"window_property:pulse_csat_ratio:lower{{{kpi}}}", "low"),
                Q(f"window_property:pulse_csat_ratio:upper{{{kpi}}}", "high"),
                Q(f"window_property:pulse_csat_responses:sum{{{kpi}}}", "n"),
            ],
            "percentunit",
            "Top-2-box answers / answers over every survey, with the Wilson interval (recording rules).",
        ),
        stat(
            "NPS",
            [
                Q(f"window_property:pulse_nps_score:score{{{kpi}}}", "NPS"),
                Q(f"window_property:pulse_nps_score:lower{{{kpi}}}", "low"),
                Q(f"window_property:pulse_nps_score:upper{{{kpi}}}", "high"),
                Q(f"window_property:pulse_nps_responses:sum{{{kpi}}}", "n"),
            ],
            "none",
            "% promoters − % detractors over every survey, with the margin of error (recording rules).",
        ),
        evidence("Web bounce", "pulse_bounce_ratio", n="n"),
        evidence("E-mail CTR", "pulse_email_click_through_ratio"),
        evidence("Spam complaints", "pulse_email_spam_complaint_ratio"),
        evidence("E-mail bounces", "pulse_email_bounce_ratio"),
    )
    grid.add(row("History"))
    grid.add(
        series(
            "Ratios",
            [
                Q(f"pulse_churn_ratio{{{kpi}}}", "churn"),
                Q(f"window_property:pulse_csat_ratio:ratio{{{kpi}}}", "CSAT"),
                Q(f"pulse_bounce_ratio{{{kpi}}}", "web bounce"),
                Q(f"pulse_email_click_through_ratio{{{kpi}}}", "e-mail CTR"),
                Q(f"pulse_email_bounce_ratio{{{kpi}}}", "e-mail bounce"),
            ],
            "percentunit",
            "The headline ratios over time, each over the selected window.",
            minimum=0,
        ),
        series(
            "NPS",
            [
                Q(f"window_property:pulse_nps_score:score{{{kpi}}}", "NPS"),
                Q(f"window_property:pulse_nps_score:lower{{{kpi}}}", "low"),
                Q(f"window_property:pulse_nps_score:upper{{{kpi}}}", "high"),
            ],
            "none",
            "NPS over every survey with its margin of error (dashed).",
        ),
    )
    grid.add(row("Alerts and pipeline"))
    grid.add(
        stat(
            "Alerts",
            [
                Q('count(ALERTS{alertname=~"Pulse.*",alertstate="firing"}) or vector(0)', "firing"),
                Q('count(ALERTS{alertname=~"Pulse.*",alertstate="pending"}) or vector(0)', "pending"),
            ],
            "short",
            "Pulse alerts firing and pending in Prometheus now.",
        ),
        table(
            "Active alerts",
            [Q('ALERTS{alertname=~"Pulse.*"}')],
            "Every Pulse alert pending or firing, with its labels; the runbooks are in docs/runbooks.",
            w=18,
            h=5,
        ),
        count("Events counted per second", "topic:pulse_events:rate5m", "{{topic}}"),
        series(
            "Newest counted event, age",
            [Q("topic:pulse_event_age_seconds:min", "{{topic}}")],
            "s",
            "How old the newest counted event of each topic is: a rising line is a stalled topic.",
            minimum=0,
        ),
    )
    return dashboard(
        "pulse-overview",
        "Pulse / Overview",
        "The headline KPIs with their evidence, their history, the alerts, and whether the pipeline counts.",
        grid,
        [WINDOW, variable("property", "label_values(property)", "Property")],
    )
