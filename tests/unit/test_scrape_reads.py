"""The exporter reads unique sets and distributions only in buckets with counters: a month of
every family shows that this loses nothing (each is written with a counter in its bucket)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics_core.exposition.collector import PulseCollector
from metrics_core.store.base import Buckets, Reader, ShardId
from metrics_core.store.memory import MemoryStore
from tests.month import LABEL_CAP, NOW_MS, WINDOWS, populate


class EveryBucket:
    """A reader that presents every bucket of a span as holding counters (empty or not), so
    unique sets and distributions are read in all of them."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def buckets(self, shards: Sequence[ShardId], spans: Mapping[int, range]) -> Buckets:
        found = self._store.buckets(shards, spans)
        for width, starts in spans.items():
            for shard in shards:
                held = found[width][shard]
                found[width][shard] = {start: held.get(start, {}) for start in starts}
        return found


def _scrape(reader: Reader | EveryBucket) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        PulseCollector(reader, WINDOWS, lambda f: f, label_cap=LABEL_CAP, clock=lambda: NOW_MS / 1000)  # type: ignore[arg-type]
    )
    return generate_latest(registry).decode()


def test_no_unique_set_or_sample_lies_outside_the_buckets_with_counters() -> None:
    store = MemoryStore()
    asyncio.run(populate(store))
    text = _scrape(store)
    assert text == _scrape(EveryBucket(store))
    uniques = {
        sample.labels["window"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name in ("pulse_unique_visitors", "pulse_buyers") and sample.value
    }
    assert set(uniques) == {w.label for w in WINDOWS}
    assert "pulse_ticket_resolution_median_seconds{" in text
