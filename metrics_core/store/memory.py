"""An in-memory store with the Redis store's semantics, for unit tests of the pure core.

Uniques are exact sets here (Redis uses HyperLogLog); expiry is not simulated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product

from metrics_core.errors import StoreConflict
from metrics_core.store.base import Buckets, Commit, ShardId, Snapshot, UniqueGroup


@dataclass
class _Shard:
    version: int = 0
    fences: dict[str, int] = field(default_factory=dict)
    seen: defaultdict[int, set[bytes]] = field(default_factory=lambda: defaultdict(set))
    states: dict[str, bytes] = field(default_factory=dict)
    counters: defaultdict[tuple[int, int], defaultdict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    uniques: defaultdict[tuple[int, int, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    labels: defaultdict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    pipeline: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: defaultdict[tuple[int, int, str], dict[str, float]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    series: defaultdict[str, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))


class MemoryStore:
    """Both sides (Store and Reader) over plain dicts."""

    def __init__(self) -> None:
        self._shards: defaultdict[ShardId, _Shard] = defaultdict(_Shard)
        self._registered: set[ShardId] = set()

    async def snapshot(
        self,
        shard: ShardId,
        source: str,
        fingerprints: Sequence[tuple[int, bytes]],
        state_keys: Sequence[str],
        cached_version: int | None,
    ) -> Snapshot:
        s = self._shards[shard]
        return Snapshot(
            version=s.version,
            fence=s.fences.get(source, -1),
            seen=frozenset(fp for bucket, fp in fingerprints if fp in s.seen[bucket]),
            states={k: s.states.get(k) for k in state_keys},
            labels=None
            if cached_version == s.version
            else {label: dict(values) for label, values in s.labels.items()},
        )

    async def commit(self, shard: ShardId, commit: Commit) -> int:
        s = self._shards[shard]
        if s.version != commit.expected_version:
            raise StoreConflict(
                f"shard {shard} is at version {s.version}, batch computed at {commit.expected_version}"
            )
        if s.fences.get(commit.source, -1) >= commit.last_offset:
            return 0
        for bucket, fps in commit.fingerprints.items():
            s.seen[bucket].update(fps)
        for key, (state, _expire) in commit.states.items():
            if state is None:
                s.states.pop(key, None)
            else:
                s.states[key] = state
        for bucket_key, fields in commit.spread.counters.items():
            for name, delta in fields.items():
                s.counters[bucket_key][name] += delta
        for (buckets, name), members in commit.spread.uniques.items():
            for bucket_ms, start in buckets:
                s.uniques[(bucket_ms, start, name)] |= members
        for sample_key, sampled in commit.spread.samples.items():
            distribution = s.samples[sample_key]
            for member, number in sampled.items():
                if number is None:
                    distribution.pop(member, None)
                else:
                    distribution[member] = number
        for series_name, points in commit.series.items():
            kept = s.series[series_name]
            kept.update(points)
            for ts in [ts for ts in kept if ts < commit.series_keep_from_ms]:
                del kept[ts]
        for label, gone in commit.labels_released.items():
            for value in gone:
                s.labels[label].pop(value, None)
        for label, values in commit.labels_touched.items():
            s.labels[label].update(values)
        for name, delta in commit.pipeline.items():
            s.pipeline[name] += delta
        s.pipeline.update(commit.gauges)
        for name, top in commit.maxima.items():
            s.pipeline[name] = max(s.pipeline.get(name, top), top)
        s.fences[commit.source] = commit.last_offset
        s.version += 1
        return s.version

    async def register(self, shard: ShardId) -> None:
        self._registered.add(shard)

    # Reader side

    def shards(self) -> list[ShardId]:
        return sorted(self._registered)

    def buckets(self, shards: Sequence[ShardId], spans: Mapping[int, range]) -> Buckets:
        found: Buckets = {}
        for width, starts in spans.items():
            found[width] = {
                shard: {
                    start: dict(fields)
                    for start in starts
                    if (fields := self._shards[shard].counters.get((width, start)))
                }
                for shard in shards
            }
        return found

    def uniques(self, bucket_ms: int, groups: Mapping[str, UniqueGroup]) -> dict[str, int]:
        result = {}
        for group, (names, buckets) in groups.items():
            members: set[str] = set()
            for (shard, start), name in product(buckets, names):
                members |= self._shards[shard].uniques.get((bucket_ms, start, name), set())
            result[group] = len(members)
        return result

    def samples(
        self, bucket_ms: int, buckets: Mapping[ShardId, Sequence[int]], names: Sequence[str]
    ) -> dict[str, list[float]]:
        return {
            name: [
                v
                for shard, starts in buckets.items()
                for start in starts
                for v in self._shards[shard].samples.get((bucket_ms, start, name), {}).values()
            ]
            for name in names
        }

    def series_names(self, shards: Sequence[ShardId]) -> set[str]:
        return {name for shard in shards for name, pts in self._shards[shard].series.items() if pts}

    def series_at(self, shards: Sequence[ShardId], name: str, at_ms: int) -> tuple[int, float] | None:
        points = [(ts, v) for shard in shards for ts, v in self._shards[shard].series[name].items()]
        before = [p for p in points if p[0] <= at_ms]
        return max(before) if before else None

    def pipeline(self, shards: Sequence[ShardId]) -> list[dict[str, int]]:
        return [dict(self._shards[shard].pipeline) for shard in shards]

    def ping(self) -> bool:
        return True
