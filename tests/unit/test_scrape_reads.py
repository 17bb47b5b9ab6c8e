"""The exporter reads unique sets and distributions only in buckets with counters (web sets:
with their own counts): what the families promise for that holds."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics_core.events.decode import decode
from metrics_core.events.model import Event
from metrics_core.exposition.collector import PulseCollector
from metrics_core.families.base import Context
from metrics_core.families.changes import SEP, Changes
from metrics_core.families.web import UNIQUE_WITNESSES, WebFamily
from metrics_core.labels import LabelCap
from metrics_core.store.base import Buckets, Reader, ShardId
from metrics_core.store.memory import MemoryStore
from streams.simulation.mix import Traffic
from tests.month import LABEL_CAP, NOW_MS, PROPERTIES, WINDOWS, populate


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


def test_every_web_unique_set_comes_with_a_witness_count() -> None:
    """UNIQUE_WITNESSES, which lets the exporter read a web set only where its counts are:
    each add comes with a positive count of a witness code, same property (and label), in
    the same second of the same batch."""
    traffic = Traffic(seed=3, start_ms=NOW_MS - 3_600_000, families=("web",), properties=PROPERTIES)
    ctx = Context(NOW_MS, 25 * 3_600_000, 30 * 60_000, LabelCap(3))
    checked = 0
    for tick in range(60):
        payloads = traffic.events(NOW_MS - 3_600_000 + tick * 60_000, 100)
        events = [decode(orjson.dumps(p), "clickstream", NOW_MS) for p in payloads]
        assert all(isinstance(e, Event) for e in events)
        changes = Changes()
        WebFamily().apply(events, {}, ctx, changes)  # type: ignore[arg-type]
        counted: defaultdict[int, set[str]] = defaultdict(set)
        for (second, counter), delta in changes.counts.items():
            if delta > 0:
                counted[second].add(counter)
        for second, name in changes.uniques:
            code, _, rest = name.partition(SEP)
            heads = [witness + SEP + rest for witness in UNIQUE_WITNESSES[code]]
            assert any(c in heads or c.startswith(tuple(h + SEP for h in heads)) for c in counted[second])
            checked += 1
    assert checked > 1000
