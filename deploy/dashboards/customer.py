"""Pulse / Customers: active, churn and retention, orders and lifetime value, tickets, events."""

from __future__ import annotations

from typing import Any

from deploy.dashboards.panels import SEL, WINDOW, count, evidence, property_variable
from deploy.grafana_kit import Grid, Q, dashboard, row, series, stat


def customer() -> dict[str, Any]:
    grid = Grid().add(row("Customers"))
    grid.add(
        stat(
            "Active customers",
            [Q('sum(pulse_active_customers{property="$property"})')],
            "short",
            "Customers with a live subscription now.",
        ),
        stat(
            "Churn",
            [Q(f"pulse_churn_ratio{{{SEL}}}", "churn"), Q(f"pulse_churn_ratio_sample_size{{{SEL}}}", "n")],
            "percentunit",
            "Churned in the window / active at its start (n).",
        ),
        stat(
            "Retention",
            [
                Q(f"pulse_retention_ratio{{{SEL}}}", "retention"),
                Q(f"pulse_retention_ratio_sample_size{{{SEL}}}", "n"),
            ],
            "percentunit",
            "(Active now − new in the window) / active at its start.",
        ),
        evidence("Repeat purchases", "pulse_repeat_purchase_ratio", n="buyers"),
    )
    grid.add(
        series(
            "Active customers by plan",
            [Q('pulse_active_customers{property="$property"}', "{{plan}}")],
            "short",
            "Live subscriptions now, per plan.",
            stacked=True,
        ),
        series(
            "Churned customers by reason",
            [Q(f"pulse_churned_customers{{{SEL}}}", "{{reason}}")],
            "short",
            "Churns in the window by reason (voluntary, involuntary, unspecified).",
            stacked=True,
        ),
    )
    grid.add(row("Orders"))
    grid.add(
        count(
            "Revenue", f"pulse_revenue{{{SEL}}}", "{{currency}}", "Revenue in the window, per currency.", w=8
        ),
        series(
            "Average order value",
            [Q(f"pulse_average_order_value{{{SEL}}}", "{{currency}}")],
            "short",
            "Revenue / orders, per currency.",
            w=8,
            minimum=0,
        ),
        series(
            "Customer lifetime value",
            [Q(f"pulse_customer_lifetime_value{{{SEL}}}", "{{currency}}")],
            "short",
            "(Revenue / active customers) / churn ratio, same window.",
            w=8,
            minimum=0,
        ),
    )
    grid.add(row("Support and events"))
    grid.add(
        series(
            "Ticket resolution time",
            [
                Q(f"pulse_ticket_resolution_seconds{{{SEL}}}", "mean"),
                Q(f"pulse_ticket_resolution_median_seconds{{{SEL}}}", "median"),
            ],
            "s",
            "Resolved − opened, over the tickets resolved in the window.",
            minimum=0,
        ),
        series(
            "Event attendance",
            [Q(f"pulse_event_attendance_ratio{{{SEL}}}", "{{event}}")],
            "percentunit",
            "Attendees / registrants per event.",
            minimum=0,
        ),
    )
    return dashboard(
        "pulse-customer",
        "Pulse / Customers",
        "Customers: active, churn and retention, orders and lifetime value, tickets and events.",
        grid,
        [WINDOW, property_variable("pulse_customers_at_window_start")],
    )
