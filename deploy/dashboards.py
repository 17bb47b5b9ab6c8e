"""Pulse's Grafana dashboards as code: an overview, one per metric family, and the pipeline.

`python -m deploy.build` writes them to deploy/grafana/dashboards/*.json. Every query reads a
metric of the exporter (docs/metrics.md) or a recording rule (deploy/prometheus/rules); the
tests check that each one parses and names a metric that exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deploy.grafana_kit import Grid, Q, dashboard, row, series, stat, table, variable

WINDOW = variable("window", "label_values(window)", "Window", current="24h")
SEL = 'window="$window",property="$property"'
RATE = "$__rate_interval"


def _property(metric: str) -> dict[str, Any]:
    return variable("property", f'label_values({metric}{{window="$window"}}, property)', "Property")


def evidence(title: str, metric: str, extra: str = "", n: str = "n", unit: str = "percentunit") -> Any:
    """A ratio as a stat: its value, its 95 % interval and the sample size behind it."""
    sel = f"{{{SEL}{extra}}}"
    queries = [
        Q(f"{metric}{sel}", title),
        Q(f"{metric}_lower{sel}", "low"),
        Q(f"{metric}_upper{sel}", "high"),
    ]
    queries.append(Q(f"{metric}_sample_size{sel}", n))
    return stat(title, queries, unit, f"{metric} with its 95 % interval and sample size ({n}).")


def band(title: str, metric: str, legend: str = "", extra: str = "", unit: str = "percentunit") -> Any:
    """A ratio over time with its 95 % interval as a dashed band."""
    sel = f"{{{SEL}{extra}}}"
    lead = f"{legend} " if legend else ""
    queries = [
        Q(f"{metric}{sel}", legend or title),
        Q(f"{metric}_lower{sel}", f"{lead}low"),
        Q(f"{metric}_upper{sel}", f"{lead}high"),
    ]
    return series(title, queries, unit, f"{metric} and its 95 % interval (dashed).", minimum=0)


def count(title: str, expr: str, legend: str = "", description: str = "", w: int = 12) -> Any:
    return series(title, [Q(expr, legend)], "short", description or expr, w=w, minimum=0)


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
        [WINDOW, _property("pulse_page_views")],
    )


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
        [WINDOW, _property("pulse_email_sent")],
    )


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
        [WINDOW, _property("pulse_social_impressions")],
    )


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
            _property("pulse_csat_responses"),
            variable(
                "survey",
                'label_values({__name__=~"pulse_(nps|csat|ces)_responses",property="$property"}, survey)',
                "Survey",
            ),
        ],
    )


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
        [WINDOW, _property("pulse_customers_at_window_start")],
    )


def pipeline() -> dict[str, Any]:
    topic = 'topic=~"$topic"'
    grid = Grid().add(row("Is Pulse counting?"))
    grid.add(
        stat(
            "Exporter up",
            [Q('up{job="pulse"}', "scrape"), Q("pulse_up", "redis")],
            "none",
            "1: scraped; 1: reads Redis.",
        ),
        stat(
            "Events/s",
            [Q(f"sum(topic:pulse_events:rate5m{{{topic}}})")],
            "short",
            "Accepted events per second.",
        ),
        stat(
            "Rejected/s",
            [Q(f"sum(topic:pulse_events_rejected:rate5m{{{topic}}})")],
            "short",
            "Rejected events per second (copied to <topic>.dlq).",
        ),
        stat(
            "Lag",
            [Q(f"sum(topic:pulse_consumer_lag:sum{{{topic}}})")],
            "short",
            "Messages behind, all partitions.",
        ),
    )
    grid.add(
        count(
            "Accepted events/s by type",
            f"sum by (type) (rate(pulse_events_total{{{topic}}}[{RATE}]))",
            "{{type}}",
        ),
        count(
            "Rejected events/s by reason",
            f"sum by (reason) (rate(pulse_events_rejected_total{{{topic}}}[{RATE}]))",
            "{{reason}}",
        ),
        count(
            "Duplicate events/s",
            f"sum by (topic) (rate(pulse_events_duplicate_total{{{topic}}}[{RATE}]))",
            "{{topic}}",
            "Repeats of an event_id within the de-dup horizon, counted once.",
        ),
        count(
            "Late events/s",
            f"sum by (topic) (rate(pulse_events_late_total{{{topic}}}[{RATE}]))",
            "{{topic}}",
            "Events older than the retention horizon, ignored.",
        ),
    )
    grid.add(row("Lag, freshness, latency"))
    grid.add(
        count("Consumer lag by partition", f"pulse_consumer_lag{{{topic}}}", "{{topic}}[{{partition}}]", w=8),
        series(
            "Newest counted event, age",
            [Q(f"topic:pulse_event_age_seconds:min{{{topic}}}", "{{topic}}")],
            "s",
            "now − the event time of the newest counted event.",
            w=8,
            minimum=0,
        ),
        series(
            "Batch apply time",
            [
                Q(_quantile(0.5, topic), "{{topic}} p50"),
                Q(f"topic:pulse_batch_apply_seconds:p99_5m{{{topic}}}", "{{topic}} p99"),
            ],
            "s",
            "Time to apply one batch of one partition, decode to Redis commit.",
            w=8,
            minimum=0,
        ),
    )
    return dashboard(
        "pulse-pipeline",
        "Pulse / Pipeline",
        "The pipeline: accepted, rejected, duplicate and late events, lag, freshness and batch latency.",
        grid,
        [
            variable("topic", "label_values(pulse_events_total, topic)", "Topic", current=None)
            | {
                "multi": True,
                "includeAll": True,
                "allValue": ".*",
                "current": {"selected": True, "text": "All", "value": "$__all"},
            }
        ],
    )


def _quantile(q: float, topic: str) -> str:
    rate = f"rate(pulse_batch_apply_seconds_bucket{{{topic}}}[{RATE}])"
    return f"histogram_quantile({q}, sum by (topic, le) ({rate}))"


DASHBOARDS: dict[str, Callable[[], dict[str, Any]]] = {
    "overview": overview,
    "web": web,
    "email": email,
    "social": social,
    "survey": survey,
    "customer": customer,
    "pipeline": pipeline,
}
