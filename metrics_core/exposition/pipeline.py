"""Pipeline metrics: accepted, rejected, duplicate and late events, freshness, lag, apply latency."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from metrics_core.batch import LATENCY_BUCKETS_S
from metrics_core.events.model import Reason
from metrics_core.events.schema import TYPES
from metrics_core.exposition.metricset import MetricSet
from metrics_core.families.changes import SEP

STORE_ERRORS = "err"  # the worker's count of failed store calls (streams/fences.py writes it)


def declare(out: MetricSet) -> None:
    out.declare("pulse_events", "counter", "Events accepted and counted, by type.", ("topic", "type"))
    out.declare(
        "pulse_events_rejected",
        "counter",
        "Events rejected (copied to <topic>.dlq), by reason.",
        ("topic", "reason"),
    )
    out.declare(
        "pulse_events_duplicate",
        "counter",
        "Events dropped as duplicates of an event_id seen within the de-dup horizon.",
        ("topic",),
    )
    out.declare(
        "pulse_events_late",
        "counter",
        "Events older than the retention horizon, ignored.",
        ("topic",),
    )
    out.declare(
        "pulse_store_errors",
        "counter",
        "Batch attempts that failed because Redis was away and were retried (written with the next commit).",
        ("topic",),
    )
    out.declare(
        "pulse_last_event_timestamp_seconds",
        "gauge",
        "Event time of the newest counted event.",
        ("topic",),
    )
    out.declare(
        "pulse_consumer_lag",
        "gauge",
        "Messages behind the partition's high watermark at the last applied batch.",
        ("topic", "partition"),
    )
    out.declare(
        "pulse_batch_apply_seconds",
        "histogram",
        "Time to apply one batch of one partition (decode to Redis commit).",
        ("topic",),
    )


def collect_family(topic: str, family: str, hashes: Sequence[Mapping[str, int]], out: MetricSet) -> None:
    """Sum one family's per-shard pipeline hashes into the pipeline metrics."""
    total: defaultdict[str, int] = defaultdict(int)
    newest = 0
    lags: dict[tuple[str, str], int] = {}
    for fields in hashes:
        for name, value in fields.items():
            if name == "lts":
                newest = max(newest, value)
            elif name.startswith("lag" + SEP):
                _, lag_topic, partition = name.split(SEP)
                lags[(lag_topic, partition)] = value
            else:
                total[name] += value
    for type_name in (t for t in TYPES if t.startswith(family + ".")):
        out.add(
            "pulse_events",
            {"topic": topic, "type": type_name},
            total.get("acc" + SEP + type_name, 0),
        )
    for reason in Reason:
        out.add(
            "pulse_events_rejected",
            {"topic": topic, "reason": reason.value},
            total.get("rej" + SEP + reason.value, 0),
        )
    out.add("pulse_events_duplicate", {"topic": topic}, total.get("dup", 0))
    out.add("pulse_events_late", {"topic": topic}, total.get("late", 0))
    out.add("pulse_store_errors", {"topic": topic}, total.get(STORE_ERRORS, 0))
    if newest:
        out.add("pulse_last_event_timestamp_seconds", {"topic": topic}, newest / 1000)
    for (lag_topic, partition), value in sorted(lags.items()):
        out.add("pulse_consumer_lag", {"topic": lag_topic, "partition": partition}, value)
    cumulative, buckets = 0, []
    for bound in (*map(str, LATENCY_BUCKETS_S), "+Inf"):
        cumulative += total.get("lat" + SEP + bound, 0)
        buckets.append((bound, float(cumulative)))
    out.add_histogram("pulse_batch_apply_seconds", {"topic": topic}, buckets, total.get("lat_us", 0) / 1e6)
