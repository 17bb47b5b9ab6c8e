"""Pulse / Pipeline: accepted, rejected, duplicate and late events, lag, freshness, batch latency."""

from __future__ import annotations

from typing import Any

from deploy.dashboards.panels import RATE, count
from deploy.grafana_kit import Grid, Q, dashboard, row, series, stat, variable


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
