"""Factories for unit tests of the pure core: event payloads, an applier over MemoryStore, scrapes.

Everything runs on a fixed clock (`NOW_MS`, an exact hour), so every expected number in the
tests can be worked out by hand from the event times.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics_core.batch import Applier, Limits, Outcome, Plan, Record, classify
from metrics_core.errors import StoreConflict
from metrics_core.exposition.collector import PulseCollector
from metrics_core.families.web import WebFamily
from metrics_core.routing import routing_key
from metrics_core.store.base import Commit, ShardId, Snapshot
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import Window, parse_windows, retention_ms

NOW_S = 1_700_002_800  # 2023-11-14T23:00:00Z: an exact hour, so every tier's buckets align on it
NOW_MS = NOW_S * 1000
HOUR_S = 3600
WINDOWS = parse_windows("5m,1h,24h")  # retention = 24 h + 1 h = 25 h
SESSION_TIMEOUT_MS = 30 * 60_000
SOURCE = "clickstream@1|0"  # "<topic identity>|<partition>"


# --- event payloads (JSON bytes, as they arrive from Kafka)


def event(event_type: str, event_id: str, ts_s: float | str, **fields: Any) -> bytes:
    """One message (`ts_s`: epoch seconds, or any string); fields given as None are left out."""
    body = {"event_id": event_id, "type": event_type, "timestamp": ts_s}
    body.update({k: v for k, v in fields.items() if v is not None})
    return orjson.dumps(body)


def page_view(
    event_id: str,
    ts_s: float,
    page: str,
    anonymous_id: str | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
    property: str | None = None,  # the wire field's name, shadowing the builtin
) -> bytes:
    return event(
        "clickstream.page_view",
        event_id,
        ts_s,
        page=page,
        anonymous_id=anonymous_id,
        session_id=session_id,
        user_id=user_id,
        property=property,
    )


def impression(event_id: str, ts_s: float, placement: str, **fields: Any) -> bytes:
    return event("clickstream.impression", event_id, ts_s, placement=placement, **fields)


def click(event_id: str, ts_s: float, placement: str, **fields: Any) -> bytes:
    return event("clickstream.click", event_id, ts_s, placement=placement, **fields)


def conversion(event_id: str, ts_s: float, goal: str, **fields: Any) -> bytes:
    return event("clickstream.conversion", event_id, ts_s, goal=goal, **fields)


def feature_used(event_id: str, ts_s: float, feature: str, user_id: str, **fields: Any) -> bytes:
    return event("clickstream.feature_used", event_id, ts_s, feature=feature, user_id=user_id, **fields)


def records(values: Sequence[bytes | None], first_offset: int = 0) -> list[Record]:
    """Consecutive Kafka records starting at `first_offset`."""
    return [Record(first_offset + i, value) for i, value in enumerate(values)]


# --- scrapes


@dataclass(frozen=True)
class Scrape:
    """A parsed scrape: sample values by (sample name, labels)."""

    text: str
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def get(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, frozenset(labels.items())))

    def value(self, name: str, **labels: str) -> float:
        found = self.get(name, **labels)
        assert found is not None, f"no sample {name}{labels} in the scrape:\n{self.text}"
        return found

    def web(self, name: str, window: str, prop: str = "default", **labels: str) -> float | None:
        return self.get(name, window=window, property=prop, **labels)

    def names(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample called `name`."""
        return [dict(labels) for sample, labels in self.samples if sample == name]


def scrape_text(
    reader: Any, now_ms: int = NOW_MS, windows: Sequence[Window] = WINDOWS, label_cap: int = 500
) -> str:
    registry = CollectorRegistry()
    registry.register(
        PulseCollector(
            reader, windows, topic_of=lambda family: family, label_cap=label_cap, clock=lambda: now_ms / 1000
        )
    )
    return generate_latest(registry).decode()


def parse(text: str) -> Scrape:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"duplicate sample {key}"
            samples[key] = sample.value
    return Scrape(text, samples)


# --- the pure path: classify -> Applier -> MemoryStore -> PulseCollector


@dataclass
class Harness:
    """One partition's worker (clickstream unless `family` says), on the in-memory store."""

    store: MemoryStore
    applier: Applier
    windows: tuple[Window, ...]
    label_cap: int
    partition: int = 0
    source: str = SOURCE
    emitted: list[Plan] = field(default_factory=list)
    next_offset: int = 0
    family: str = "clickstream"

    @property
    def retention_ms(self) -> int:
        return retention_ms(self.windows)

    def plan(
        self,
        values: Sequence[bytes | None],
        first_offset: int | None = None,
        now_ms: int = NOW_MS,
        partitions: int | None = None,
    ) -> Plan:
        """Classify the next records (offsets continue from the last batch unless given)."""
        start = self.next_offset if first_offset is None else first_offset
        batch = records(values, start)
        self.next_offset = max(self.next_offset, start + len(batch))
        return classify(
            batch, self.family, self.partition, partitions, now_ms, self.retention_ms, 65_536, routing_key
        )

    async def apply(self, plan: Plan, now_ms: int = NOW_MS, source: str | None = None) -> Outcome:
        async def emit(todo: Plan) -> None:
            self.emitted.append(todo)

        return await self.applier.apply(
            ShardId(self.family, self.partition), source or self.source, plan, emit, now_ms=now_ms
        )

    async def feed(self, *values: bytes | None, now_ms: int = NOW_MS) -> Outcome:
        """Classify and apply one batch of the given messages."""
        return await self.apply(self.plan(values, now_ms=now_ms), now_ms=now_ms)

    def scrape(self, now_ms: int = NOW_MS, label_cap: int | None = None) -> Scrape:
        cap = self.label_cap if label_cap is None else label_cap
        return parse(scrape_text(self.store, now_ms, self.windows, cap))


HarnessFactory = Callable[..., Harness]


class InterferingStore(MemoryStore):
    """A MemoryStore where, right after the next snapshot, another writer commits first."""

    def __init__(self) -> None:
        super().__init__()
        self.interfere: Callable[[], Awaitable[object]] | None = None
        self.commits = 0
        self.conflicts = 0

    async def snapshot(
        self,
        shard: ShardId,
        source: str,
        fingerprints: Sequence[tuple[int, bytes]],
        state_keys: Sequence[str],
        cached_version: int | None,
    ) -> Snapshot:
        snap = await super().snapshot(shard, source, fingerprints, state_keys, cached_version)
        hook, self.interfere = self.interfere, None
        if hook is not None:
            await hook()
        return snap

    async def commit(self, shard: ShardId, commit: Commit) -> int:
        self.commits += 1
        try:
            return await super().commit(shard, commit)
        except StoreConflict:
            self.conflicts += 1
            raise


@pytest.fixture
def applier() -> HarnessFactory:
    """`applier(windows=..., label_cap=..., store=...)`: a fresh Harness on a MemoryStore."""

    def make(
        windows: tuple[Window, ...] = WINDOWS,
        label_cap: int = 500,
        store: MemoryStore | None = None,
        partition: int = 0,
        session_timeout_ms: int = SESSION_TIMEOUT_MS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> Harness:
        store = store if store is not None else MemoryStore()
        limits = Limits(windows, retention_ms(windows), 72 * HOUR_S * 1000, session_timeout_ms, label_cap)
        return Harness(store, Applier(store, WebFamily(), limits, clock), windows, label_cap, partition)

    return make
