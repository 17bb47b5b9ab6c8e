"""Pulse / E-mail: volume, every ratio with its interval, campaigns and bounce types."""

from __future__ import annotations

from typing import Any

from deploy.dashboards.panels import SEL, WINDOW, band, evidence, property_variable
from deploy.grafana_kit import Grid, Q, dashboard, row, series, stat, table

EMAIL_RATIOS = (
    ("Delivery", "delivery_ratio"),
    ("Bounces", "bounce_ratio"),
    ("Opens", "open_ratio"),
    ("Human opens", "human_open_ratio"),
    ("Click-through", "click_through_ratio"),
    ("Click-to-open", "click_to_open_ratio"),
    ("Unsubscribes", "unsubscribe_ratio"),
    ("Spam complaints", "spam_complaint_ratio"),
    ("Conversions", "conversion_ratio"),
)


def email() -> dict[str, Any]:
    grid = Grid().add(row("Volume"))
    grid.add(
        stat("Sent", [Q(f"pulse_email_sent{{{SEL}}}")], "short", "Messages sent in the window."),
        stat("Delivered", [Q(f"pulse_email_delivered{{{SEL}}}")], "short", "Of those, delivered."),
        evidence("Click-through", "pulse_email_click_through_ratio", n="delivered"),
        evidence("Spam complaints", "pulse_email_spam_complaint_ratio", n="delivered"),
    )
    grid.add(row("Ratios (of the messages sent in the window, so far)"))
    for title, suffix in EMAIL_RATIOS:
        grid.add({**band(title, f"pulse_email_{suffix}"), "gridPos": {"w": 8, "h": 7}})
    grid.add(row("Campaigns and bounces"))
    grid.add(
        table(
            "Campaigns",
            [
                Q(f"topk(25, pulse_email_campaign_sent{{{SEL}}})"),
                Q(f"pulse_email_campaign_click_through_ratio{{{SEL}}}"),
                Q(f"pulse_email_campaign_bounce_ratio{{{SEL}}}"),
                Q(f"pulse_email_campaign_spam_complaint_ratio{{{SEL}}}"),
            ],
            "The 25 largest campaigns: sent (A), click-through (B), bounces (C), spam complaints (D).",
            w=16,
        ),
        series(
            "Bounces by type",
            [Q(f"pulse_email_bounced_by_type{{{SEL}}}", "{{bounce_type}}")],
            "short",
            "Bounced messages by their most severe bounce type.",
            w=8,
            stacked=True,
        ),
    )
    return dashboard(
        "pulse-email",
        "Pulse / E-mail",
        "E-mail: volume, every ratio with its interval, campaigns and bounce types.",
        grid,
        [WINDOW, property_variable("pulse_email_sent")],
    )
