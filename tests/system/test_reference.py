"""The harness's workload and reference agree with Pulse's core, without Kafka or Redis.

Every message of a small workload (duplicates and garbage included) goes through `classify`
and the `Applier` into the in-memory store, in batches, and the collector's scrape must equal
the independent reference. This is the harness without violence: if it fails, the
reference or the workload is wrong, not the pipeline under fire.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from metrics_core.batch import Applier, Limits, Record, classify
from metrics_core.exposition.collector import PulseCollector
from metrics_core.registry import family_logic
from metrics_core.routing import routing_key
from metrics_core.store.base import ShardId
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import parse_windows, retention_ms
from tests.integration.harness import samples
from tests.system.reference import expected
from tests.system.verify import verify
from tests.system.workload import build

WINDOWS = parse_windows("1h,24h")
BATCH = 300


def _scrape(messages_by_family: dict[str, list[Any]], now_s: float) -> str:
    store = MemoryStore()
    limits = Limits(WINDOWS, retention_ms(WINDOWS), 72 * 3_600_000, 30 * 60_000, 500)
    now_ms = int(now_s * 1000)

    async def emit(todo: Any) -> None:
        return None

    async def run() -> None:
        for family, messages in messages_by_family.items():
            applier = Applier(store, family_logic(family), limits)
            for start in range(0, len(messages), BATCH):
                records = [
                    Record(start + i, m.value, m.key) for i, m in enumerate(messages[start : start + BATCH])
                ]
                plan = classify(records, family, 0, None, now_ms, limits.retention_ms, 65_536, routing_key)
                await applier.apply(ShardId(family, 0), f"{family}@1|0", plan, emit, now_ms=now_ms)

    asyncio.run(run())
    registry = CollectorRegistry()
    registry.register(PulseCollector(store, WINDOWS, lambda f: f, clock=lambda: now_s))
    return generate_latest(registry).decode()


def test_the_reference_equals_the_core_on_the_workload() -> None:
    t0 = int(time.time())
    workload = build(seed=7, events=4000, t0_s=t0, partitions=4)
    by_family: defaultdict[str, list[Any]] = defaultdict(list)
    for message in workload.messages:
        by_family[message.family].append(message)
    now_s = t0 + 60.0
    found = samples(_scrape(by_family, now_s))
    want = expected(
        workload.events, workload.garbage, now_s, [(w.label, w.window_ms // 1000) for w in WINDOWS], str
    )
    verdict = verify(want, found)
    assert verdict.exact, "\n".join(verdict.mismatches[:40])
    assert verdict.compared > 400
    assert verdict.worst_hll_error == 0  # the in-memory store counts uniques exactly
    assert sum(workload.duplicates.values()) > 300 and sum(workload.garbage.values()) >= 5
