"""Redis memory per million events and per series, from what the other parts measured.

`used_memory` (INFO memory: bytes the allocator holds for data) is read before and after each
`pulse worker` run, each in its own database of one otherwise idle server, and before and
after each scrape population. Per million events is **extrapolated** linearly from runs of
`--events` events: de-dup fingerprints and bucket fields grow with events, while per-entity
state (sessions, HyperLogLogs) saturates, so a real million may take somewhat less. The
catch-up run (`bench/catchup.py`) measures it directly at millions of events (full mode).
"""

from __future__ import annotations

from typing import Any


def summarize(
    layers: list[dict[str, Any]], scrape: dict[str, Any] | None, catchup: dict[str, Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"per_million_events": {}, "per_series": {}, "extrapolated": True}
    for layer in layers:
        delta = layer.get("used_memory_delta_bytes")
        if delta is None or layer.get("workers", 1) != 1:
            continue
        events = layer["events_total"]
        out["per_million_events"][layer["data"]] = {
            "events_measured": events,
            "used_memory_delta_bytes": delta,
            "mib_per_million_events": delta / events * 1e6 / 2**20,
            "bytes_per_event": delta / events,
        }
    if catchup and catchup.get("used_memory_delta_bytes") is not None:
        events = catchup["events_processed"]
        out["per_million_events"]["web (catch-up run, live event times)"] = {
            "events_measured": events,
            "used_memory_delta_bytes": catchup["used_memory_delta_bytes"],
            "mib_per_million_events": catchup["used_memory_delta_bytes"] / events * 1e6 / 2**20,
            "bytes_per_event": catchup["used_memory_delta_bytes"] / events,
        }
    for name, found in (scrape or {}).items():
        out["per_series"][name] = {
            "series": found["series"],
            "bytes_per_series": found["bytes_per_series"],
            "events": found["events"],
        }
    return out
