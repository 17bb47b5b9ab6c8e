"""Pulse / Web: traffic, sessions and bounces, pages, placements, goals and features."""

from __future__ import annotations

from typing import Any

from deploy.dashboards.panels import SEL, WINDOW, band, count, evidence, property_variable
from deploy.grafana_kit import Grid, Q, dashboard, row, series, stat, table


def web() -> dict[str, Any]:
    grid = Grid().add(row("Traffic"))
    for title, metric in (
        ("Page views", "pulse_page_views"),
        ("Unique visitors", "pulse_unique_visitors"),
        ("Sessions", "pulse_sessions"),
        ("Active users", "pulse_active_users"),
    ):
        grid.add(stat(title, [Q(f"{metric}{{{SEL}}}")], "short", f"{metric} over the window."))
    grid.add(evidence("Bounce ratio", "pulse_bounce_ratio", n="sessions"))
    grid.add(
        stat(
            "Session duration",
            [Q(f"pulse_session_duration_seconds{{{SEL}}}")],
            "s",
            "Mean duration of the sessions started in the window (bounces count 0 s).",
        )
    )
    grid.add(row("Sessions and pages"), band("Bounce ratio", "pulse_bounce_ratio"))
    grid.add(
        count("Sessions and bounces", f"pulse_sessions{{{SEL}}}", "sessions"),
        table(
            "Pages: views, exits, exit ratio",
            [
                Q(f"topk(25, pulse_page_views_by_page{{{SEL}}})"),
                Q(f"pulse_page_exits{{{SEL}}}"),
                Q(f"pulse_page_exit_ratio{{{SEL}}}"),
            ],
            "The 25 most viewed pages: views (A), exits (B) and exit ratio (C).",
            w=24,
        ),
    )
    grid.add(row("Placements, goals and features"))
    grid.add(
        series(
            "Click-through by placement",
            [Q(f"pulse_click_through_ratio{{{SEL}}}", "{{placement}}")],
            "percentunit",
            "Clicks / impressions per placement.",
            w=8,
            minimum=0,
        ),
        series(
            "Conversion by goal",
            [Q(f"pulse_conversion_ratio{{{SEL}}}", "{{goal}}")],
            "percentunit",
            "Converting visitors / unique visitors per goal.",
            w=8,
            minimum=0,
        ),
        series(
            "Feature adoption",
            [Q(f"pulse_feature_adoption_ratio{{{SEL}}}", "{{feature}}")],
            "percentunit",
            "Users of the feature / active users.",
            w=8,
            minimum=0,
        ),
    )
    return dashboard(
        "pulse-web",
        "Pulse / Web",
        "Clickstream: traffic, sessions and bounces, pages, placements, goals and features.",
        grid,
        [WINDOW, property_variable("pulse_page_views")],
    )
