"""A month of every family's traffic at a fixed clock, applied through the worker's batch path.

Simulated traffic over 30 days, five properties, seven e-mail campaigns at once, routed to
four partitions. The clock is fixed in 2100, so in Redis every bucket is alive and a scrape of
the result is the same on every run (tests/integration/test_scrape_golden.py); any Store takes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from metrics_core.batch import Applier, Limits, Plan, Record, classify
from metrics_core.events.model import FAMILIES
from metrics_core.registry import family_logic
from metrics_core.routing import routing_key
from metrics_core.store.base import ShardId, Store
from metrics_core.windows import parse_windows, retention_ms
from streams.simulation.mix import Traffic

NOW_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z: every bucket's expiry time is far ahead
WINDOWS = parse_windows("5m,1h,20h,24h,7d,30d")  # 20h and 24h share a tier (20-minute buckets)
PARTITIONS = 4
LABEL_CAP = 3  # pages, placements, campaigns, platforms, ... fold into __other__
PROPERTIES = ("shop", "blog", "app", "docs", "api")
MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000
# (how long before now, events): denser towards now, some on every window's ground
TICKS = (
    (29 * DAY_MS, 300),
    (20 * DAY_MS, 300),
    (6 * DAY_MS, 300),
    (3 * DAY_MS, 300),
    (30 * HOUR_MS, 300),
    (20 * HOUR_MS, 300),
    (5 * HOUR_MS, 300),
    (50 * MINUTE_MS, 400),
    (30 * MINUTE_MS, 400),
    (10 * MINUTE_MS, 400),
    (4 * MINUTE_MS, 400),
    (2 * MINUTE_MS, 400),
    (30_000, 400),
    (0, 200),
)


async def populate(store: Store, clock: Callable[[], float] = time.perf_counter) -> None:
    """Apply the month to `store` (a RedisStore must be set up already)."""
    limits = Limits(WINDOWS, retention_ms(WINDOWS), 72 * HOUR_MS, 30 * MINUTE_MS, LABEL_CAP)
    traffic = Traffic(seed=7, start_ms=NOW_MS - TICKS[0][0], properties=PROPERTIES)
    appliers = {family: Applier(store, family_logic(family), limits, clock) for family in FAMILIES}
    offsets = dict.fromkeys(FAMILIES, 0)
    for ago_ms, count in TICKS:
        by_family: dict[str, list[Record]] = {family: [] for family in FAMILIES}
        for payload in [*traffic.events(NOW_MS - ago_ms, count), *_campaigns(NOW_MS - ago_ms)]:
            family = payload["type"].split(".", 1)[0]  # the type names its family
            by_family[family].append(Record(offsets[family], orjson.dumps(payload)))
            offsets[family] += 1
        for family, records in by_family.items():
            await _apply(appliers[family], family, records, limits)


def _campaigns(at_ms: int) -> list[dict[str, Any]]:
    """Messages of seven campaigns at once (the simulator runs one campaign at a time)."""
    out: list[dict[str, Any]] = []
    for i in range(21):
        ids = {"message_id": f"m-{at_ms}-{i}", "campaign_id": f"cmp-x{i % 7}"}
        common = {"property": PROPERTIES[i % len(PROPERTIES)], **ids}
        steps = [("sent", {}), ("delivered", {}), ("opened", {"machine": i % 4 == 0}), ("clicked", {})]
        if i % 5 == 3:
            steps[1:] = [("bounced", {"bounce_type": ("hard", "soft", "blocked")[i % 3]})]
        for k, (kind, extra) in enumerate(steps[: 1 + i % len(steps)]):
            ts_s = (at_ms - 1000 * (len(steps) - k)) / 1000
            event_id = f"x{i}-{kind}-{at_ms}"
            out.append({"event_id": event_id, "type": f"email.{kind}", "timestamp": ts_s, **common, **extra})
    return out


async def _forward(plan: Plan) -> None:
    return None  # every partition classifies the whole tick and keeps what it owns


async def _apply(applier: Applier, family: str, records: Sequence[Record], limits: Limits) -> None:
    for partition in range(PARTITIONS):
        plan = classify(
            records, family, partition, PARTITIONS, NOW_MS, limits.retention_ms, 65_536, routing_key
        )
        if plan.last_offset >= 0:
            source = f"{family}@month|{partition}"
            await applier.apply(ShardId(family, partition), source, plan, _forward, now_ms=NOW_MS)
