"""The exporter's reads of the Redis store, synchronous (the collector runs in the HTTP thread).

Per family and scrape: one pipeline of `pulse_buckets` calls (one per shard: the non-empty
counter buckets of every tier), then per window the unions of unique sets (`PFCOUNT`) and the
distributions, read only in the buckets the views choose. In a Redis Cluster, pipelines are
split per node by the client, and unions across shards (slots) are merged per shard first and
counted under one temporary hash tag.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import uuid4

from redis.exceptions import ResponseError

from metrics_core.store.base import Buckets, ShardId, UniqueGroup
from metrics_core.store.redis_store import READ_LIBRARY, UNAVAILABLE, connect, is_cluster, shard_prefix

TEMP_KEY_TTL_MS = 10_000  # the HyperLogLog unions in cluster mode


class RedisReader:
    """The exporter's reads, synchronous (the Prometheus collector runs in the HTTP thread)."""

    def __init__(self, url: str, ns: str = "pulse") -> None:
        self._redis = connect(url, decode_responses=True, socket_timeout=5)
        self._raw = connect(url, socket_timeout=5) if is_cluster(url) else None  # HyperLogLog bytes
        self._ns = ns

    def shards(self) -> list[ShardId]:
        members: set[str] = self._redis.smembers(f"{self._ns}:shards")  # type: ignore[assignment]
        return sorted(ShardId(f, int(p)) for f, _, p in (m.rpartition(":") for m in members))

    def buckets(self, shards: Sequence[ShardId], spans: Mapping[int, range]) -> Buckets:
        """One `pulse_buckets` call per shard, all in one pipeline: the non-empty buckets only."""
        args: list[int] = []
        for width, starts in spans.items():
            if len(starts) > 1 and starts.step != width:
                raise ValueError(f"buckets of width {width} ms read as {starts}")
            args += (width, starts.start, len(starts))
        found: Buckets = {width: {} for width in spans}
        if not shards:
            return found
        replies = self._functions(
            [("pulse_buckets", shard_prefix(self._ns, shard), *args) for shard in shards]
        )
        for shard, reply in zip(shards, replies, strict=True):
            for (width, starts), flat in zip(spans.items(), reply, strict=True):
                found[width][shard] = {
                    starts[flat[i]]: dict(zip(flat[i + 1][::2], map(int, flat[i + 1][1::2]), strict=True))
                    for i in range(0, len(flat), 2)
                }
        return found

    def _functions(self, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        """`(function, key, *args)` calls through FCALL_RO in one pipeline; loads pulse_read.lua
        when this Redis lacks it (no worker started yet, or a restart without persistence)."""
        for attempt in (1, 2):
            pipe = self._redis.pipeline(transaction=False)
            for name, key, *args in calls:
                pipe.fcall_ro(name, 1, key, *args)
            try:
                return pipe.execute()
            except ResponseError as exc:
                if "Function not found" not in str(exc) or attempt == 2:
                    raise
                self._redis.function_load(READ_LIBRARY, replace=True)
        raise AssertionError("unreachable")

    def uniques(self, bucket_ms: int, groups: Mapping[str, UniqueGroup]) -> dict[str, int]:
        if self._raw is not None:
            return self._cluster_uniques(bucket_ms, groups)
        prefixes = self._unique_prefixes(bucket_ms, groups)
        pipe = self._redis.pipeline(transaction=False)
        counted = []
        for group, (names, buckets) in groups.items():
            if names and buckets:
                pipe.pfcount(*[prefixes[bucket] + name for bucket in buckets for name in names])
                counted.append(group)
        counts = dict.fromkeys(groups, 0)
        counts.update(zip(counted, pipe.execute() if counted else (), strict=True))
        return counts

    def _unique_prefixes(
        self, bucket_ms: int, groups: Mapping[str, UniqueGroup]
    ) -> dict[tuple[ShardId, int], str]:
        """`(shard, start) -> "{pulse:clickstream:3}:h:5000:1700000000000:"` of every bucket read."""
        buckets = {bucket for group in groups.values() for bucket in group.buckets}
        return {
            (shard, start): f"{shard_prefix(self._ns, shard)}:h:{bucket_ms}:{start}:"
            for shard, start in buckets
        }

    def _cluster_uniques(self, bucket_ms: int, groups: Mapping[str, UniqueGroup]) -> dict[str, int]:
        """PFCOUNT over keys of several slots, which a cluster refuses (CROSSSLOT) in one call.

        Per group and shard, PFMERGE its buckets into a temporary key in the shard's slot; GET
        those; SET them under one temporary hash tag and PFCOUNT there. Temporary keys expire
        in 10 s even if the exporter dies midway.
        """
        assert self._raw is not None
        prefixes = self._unique_prefixes(bucket_ms, groups)
        token = uuid4().hex
        merges = self._raw.pipeline(transaction=False)
        merged: list[list[str]] = []  # per group, its temporary keys (one per shard it reads)
        for g, (names, buckets) in enumerate(groups.values()):
            by_shard: defaultdict[ShardId, list[str]] = defaultdict(list)
            for bucket in buckets if names else ():
                by_shard[bucket[0]] += (prefixes[bucket] + name for name in names)
            merged.append([])
            for shard, sources in by_shard.items():
                target = f"{shard_prefix(self._ns, shard)}:tmp:{token}:{g}"
                merges.execute_command("PFMERGE", target, *sources)  # one slot: allowed in a pipeline
                merges.pexpire(target, TEMP_KEY_TTL_MS)
                merged[-1].append(target)
        targets = [key for keys in merged for key in keys]
        if not targets:
            return dict.fromkeys(groups, 0)
        merges.execute()
        fetch = self._raw.pipeline(transaction=False)
        for key in targets:
            fetch.get(key)
        sketches = fetch.execute()
        tag = f"{{{self._ns}:union:{token}}}"
        count = self._raw.pipeline(transaction=False)
        for i, sketch in enumerate(sketches):
            count.set(f"{tag}:{i}", sketch, px=TEMP_KEY_TTL_MS)
        first = 0
        for keys in merged:
            if keys:
                count.execute_command("PFCOUNT", *[f"{tag}:{i}" for i in range(first, first + len(keys))])
                first += len(keys)
        results = iter(count.execute()[len(sketches) :])
        self._raw.unlink(*targets, *(f"{tag}:{i}" for i in range(len(sketches))))
        return {group: int(next(results)) if keys else 0 for group, keys in zip(groups, merged, strict=True)}

    def samples(
        self, bucket_ms: int, buckets: Mapping[ShardId, Sequence[int]], names: Sequence[str]
    ) -> dict[str, list[float]]:
        prefixes = [
            f"{shard_prefix(self._ns, shard)}:q:{bucket_ms}:{start}:"
            for shard, starts in buckets.items()
            for start in starts
        ]
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            for prefix in prefixes:
                pipe.zrange(prefix + name, 0, -1, withscores=True)
        replies = iter(pipe.execute())
        return {name: [score for _ in prefixes for _, score in next(replies)] for name in names}

    def series_names(self, shards: Sequence[ShardId]) -> set[str]:
        pipe = self._redis.pipeline(transaction=False)
        for shard in shards:
            pipe.smembers(f"{shard_prefix(self._ns, shard)}:zs")
        return set().union(*pipe.execute()) if shards else set()

    def series_at(self, shards: Sequence[ShardId], name: str, at_ms: int) -> tuple[int, float] | None:
        pipe = self._redis.pipeline(transaction=False)
        for shard in shards:
            pipe.zrevrangebyscore(f"{shard_prefix(self._ns, shard)}:z:{name}", at_ms, "-inf", 0, 1)
        found = [member.split(":", 1) for reply in pipe.execute() for member in reply]
        return max(((int(ts), float(v)) for ts, v in found), default=None)

    def pipeline(self, shards: Sequence[ShardId]) -> list[dict[str, int]]:
        pipe = self._redis.pipeline(transaction=False)
        for shard in shards:
            pipe.hgetall(f"{shard_prefix(self._ns, shard)}:pipe")
        return [{k: int(v) for k, v in h.items()} for h in pipe.execute()]

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except UNAVAILABLE:
            return False
