"""Pulse / Social: interactions, engagement, share of voice, followers, response to inbound."""

from __future__ import annotations

from typing import Any

from deploy.dashboards.panels import SEL, WINDOW, band, property_variable
from deploy.grafana_kit import Grid, Q, dashboard, row, series


def social() -> dict[str, Any]:
    grid = Grid().add(row("Engagement"))
    grid.add(
        series(
            "Interactions by kind",
            [Q(f"sum by (kind) (pulse_social_interactions{{{SEL}}})", "{{kind}}")],
            "short",
            "Likes − unlikes, comments, shares, saves and clicks, over every platform.",
            stacked=True,
        ),
        series(
            "Engagement by platform",
            [Q(f"pulse_social_engagement_ratio{{{SEL}}}", "{{platform}}")],
            "percentunit",
            "Interactions / impressions per platform.",
            minimum=0,
        ),
        band("Share of voice", "pulse_social_share_of_voice_ratio"),
        series(
            "Follower growth by platform",
            [Q(f"pulse_social_follower_growth_ratio{{{SEL}}}", "{{platform}}")],
            "percentunit",
            "(Followers now − at the window start) / at the window start.",
        ),
    )
    grid.add(row("Audience and care"))
    grid.add(
        series(
            "Followers",
            [Q('pulse_social_followers{property="$property"}', "{{platform}}")],
            "short",
            "The latest follower snapshot per platform (no window).",
            w=8,
        ),
        series(
            "First-reply time",
            [Q(f"pulse_social_response_seconds{{{SEL}}}", "{{platform}}")],
            "s",
            "Mean time to the first reply to an inbound conversation.",
            w=8,
            minimum=0,
        ),
        series(
            "Replied conversations",
            [Q(f"pulse_social_response_ratio{{{SEL}}}", "{{platform}}")],
            "percentunit",
            "Replied / inbound conversations.",
            w=8,
            minimum=0,
        ),
    )
    return dashboard(
        "pulse-social",
        "Pulse / Social",
        "Social: interactions, engagement, share of voice, followers and response to inbound messages.",
        grid,
        [WINDOW, property_variable("pulse_social_impressions")],
    )
