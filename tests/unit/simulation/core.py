"""The pure path for simulated traffic: classify → Applier → MemoryStore → PulseCollector, no Kafka."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import orjson

from metrics_core.batch import Applier, Limits, Plan, Record, classify
from metrics_core.events.model import FAMILIES
from metrics_core.registry import family_logic
from metrics_core.routing import routing_key
from metrics_core.store.base import ShardId
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import Window, retention_ms
from streams.simulation.mix import Traffic, timeline
from tests.unit.conftest import HOUR_S, SESSION_TIMEOUT_MS, WINDOWS, Scrape, parse, scrape_text

MINUTE_MS = 60_000
HOUR_MS = HOUR_S * 1000


class Core:
    """One partition per family on an in-memory store; `feed` events, `scrape` at any time."""

    def __init__(self, windows: Sequence[Window] = WINDOWS) -> None:
        self.store = MemoryStore()
        self.windows = tuple(windows)
        self.limits = Limits(self.windows, retention_ms(self.windows), 72 * HOUR_MS, SESSION_TIMEOUT_MS, 500)
        self.appliers = {f: Applier(self.store, family_logic(f), self.limits) for f in FAMILIES}
        self.offsets: Counter[str] = Counter()
        self.fed: Counter[str] = Counter()  # events by type

    def feed(self, events: Sequence[dict[str, Any]], now_ms: int) -> None:
        by_family: dict[str, list[bytes]] = defaultdict(list)
        for event in events:
            by_family[event["type"].partition(".")[0]].append(orjson.dumps(event))
            self.fed[event["type"]] += 1
        for family, payloads in by_family.items():
            first = self.offsets[family]
            self.offsets[family] += len(payloads)
            records = [Record(first + i, p) for i, p in enumerate(payloads)]
            plan = classify(records, family, 0, None, now_ms, self.limits.retention_ms, 65_536, routing_key)
            assert not plan.rejected and not plan.late, (plan.rejected[:3], len(plan.late))
            asyncio.run(self._apply(family, plan, now_ms))

    async def _apply(self, family: str, plan: Plan, now_ms: int) -> None:
        async def emit(todo: Plan) -> None:
            assert not todo.rejected and not todo.forwards, "nothing is rejected or re-keyed"

        outcome = await self.appliers[family].apply(
            ShardId(family, 0), f"{family}@1|0", plan, emit, now_ms=now_ms
        )
        assert outcome.applied == len(plan.events)

    def scrape(self, now_ms: int) -> Scrape:
        return parse(scrape_text(self.store, now_ms, self.windows))


def drive(
    core: Core, traffic: Traffic, start_ms: int, end_ms: int, rate: float, batch_ms: int = MINUTE_MS
) -> None:
    """Feed `traffic` from `start_ms` to `end_ms` at `rate` (steady events/s), a batch a minute."""
    pending: list[dict[str, Any]] = []
    next_batch_ms = start_ms + batch_ms
    for tick_ms, events in timeline(traffic, start_ms, rate, tick_ms=1000):
        if tick_ms > end_ms:
            break
        pending.extend(events)
        if tick_ms >= next_batch_ms:
            core.feed(pending, tick_ms)
            pending, next_batch_ms = [], next_batch_ms + batch_ms
    core.feed(pending, end_ms)
