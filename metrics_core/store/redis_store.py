"""The Redis store: shard snapshots and atomic commits through the `pulse_v1` Redis Functions.

A standalone Redis (`redis://`, `rediss://` for TLS) or a Redis Cluster (`redis+cluster://`,
`rediss+cluster://`: any node; the client discovers the rest). Every script call touches one
shard, one hash slot, so the cluster needs nothing else of the worker. The exporter's reads
are pipelined per node; unions of HyperLogLogs across shards (slots) are merged per shard
first and counted under one temporary hash tag (`uniques`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from itertools import compress
from typing import Any
from uuid import uuid4

import orjson
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.exceptions import ClusterError, ResponseError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from metrics_core.errors import StoreConflict, StoreUnavailable
from metrics_core.store.base import Buckets, Commit, ShardId, Snapshot, UniqueGroup

LIBRARY = resources.files("metrics_core.store").joinpath("pulse.lua").read_text()
_FLAGS = bytes.maketrans(b"01", b"\x00\x01")  # pulse_snapshot's de-dup flags -> falsy/truthy bytes
_UNAVAILABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    ClusterError,
    TryAgainError,
    SlotNotCoveredError,
)
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
TEMP_KEY_TTL_MS = 10_000  # the exporter's HyperLogLog unions in cluster mode

SyncClient = redis.Redis | RedisCluster
AsyncClient = aioredis.Redis | AsyncRedisCluster


def is_cluster(url: str) -> bool:
    """`redis+cluster://host:port` (or `rediss+cluster://`) names a Redis Cluster.

    >>> is_cluster("redis+cluster://10.0.0.7:6379"), is_cluster("redis://:secret@cache:6379/0")
    (True, False)
    """
    return url.split("://", 1)[0] in CLUSTER_SCHEMES


def _client_url(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{CLUSTER_SCHEMES.get(scheme, scheme)}://{rest}"


def connect(url: str, **options: Any) -> SyncClient:
    """A synchronous client of the standalone Redis or Redis Cluster that `url` names.

    Password and TLS come with the URL (`rediss://:password@host:6380/0?ssl_ca_certs=...`).
    """
    if is_cluster(url):
        return RedisCluster.from_url(_client_url(url), **options)
    return redis.Redis.from_url(url, **options)


def connect_async(url: str, **options: Any) -> AsyncClient:
    """The asyncio client of the standalone Redis or Redis Cluster that `url` names."""
    if is_cluster(url):
        return AsyncRedisCluster.from_url(_client_url(url), **options)
    return aioredis.Redis.from_url(url, **options)


def namespace(topic_prefix: str) -> str:
    """Key namespace: `pulse`, plus the topic prefix so two deployments can share one Redis."""
    clean = "".join(ch for ch in topic_prefix if ch not in "{}")
    return f"pulse:{clean}" if clean else "pulse"


def shard_prefix(ns: str, shard: ShardId) -> str:
    """`{pulse:clickstream:3}`: the hash tag that keeps a shard's keys in one cluster slot."""
    return f"{{{ns}:{shard.family}:{shard.partition}}}"


def _payload(commit: Commit) -> tuple[bytes, bytes, bytes]:
    """The commit as (JSON, fingerprint blob, state blob), integers as strings.

    Fingerprints and states travel as raw bytes beside the JSON, which gives their sizes:
    embedding the states' JSON in the payload would escape every quote twice.
    """
    blob = b"".join(fp for fps in commit.fingerprints.values() for fp in fps)
    states = b"".join(value for value, _ in commit.states.values() if value is not None)
    spread = commit.spread
    body: dict[str, Any] = {
        "v": str(commit.expected_version),
        "src": commit.source,
        "off": str(commit.last_offset),
        "dd": [[str(hour), str(len(fps))] for hour, fps in commit.fingerprints.items() if fps],
        "ddx": str(commit.dedup_expire_ms),
        "s": [
            [key, str(len(value)) if value is not None else "-1", str(expire)]
            for key, (value, expire) in commit.states.items()
        ],
        "q": [
            [
                f"{width}:{start}:{name}",
                str(start + commit.bucket_expiry_ms[width]),
                _flat((member, _num(v) if v is not None else False) for member, v in values.items()),
            ]
            for (width, start, name), values in spread.samples.items()
            if values
        ],
        "z": [
            [name, _flat((str(ts), _num(v)) for ts, v in sorted(points.items()))]
            for name, points in commit.series.items()
            if points
        ],
        "zk": str(commit.series_keep_from_ms),
        "c": [
            [
                f"{width}:{start}",
                str(start + commit.bucket_expiry_ms[width]) if width else "0",  # totals: no expiry
                _flat((name, str(delta)) for name, delta in fields.items() if delta),
            ]
            for (width, start), fields in spread.counters.items()
        ],
        "h": [
            [
                f"{width}:{start}:{name}",
                str(start + commit.bucket_expiry_ms[width]),
                sorted(members),
            ]
            for (width, start, name), members in spread.uniques.items()
            if members
        ],
        "lt": [
            [label, _flat((value, str(ts)) for value, ts in values.items())]
            for label, values in commit.labels_touched.items()
            if values
        ],
        "lr": [[label, list(values)] for label, values in commit.labels_released.items() if values],
        "pc": _flat((name, str(n)) for name, n in commit.pipeline.items() if n),
        "pg": _flat((name, str(n)) for name, n in commit.gauges.items()),
        "pm": _flat((name, str(n)) for name, n in commit.maxima.items()),
    }
    return orjson.dumps(body), blob, states


def _flat(pairs: Iterable[tuple[str, Any]]) -> list[Any]:
    return [item for pair in pairs for item in pair]


def _num(value: float) -> str:
    """A number as Redis reads it back exactly: `3`, `2.5`."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _fingerprint_args(fingerprints: Sequence[tuple[int, bytes]]) -> tuple[list[bytes], bytes, bytes]:
    """The fingerprints in the order pulse_snapshot reads them (by hour), their blob and hours."""
    by_hour: defaultdict[int, list[bytes]] = defaultdict(list)
    for hour, fp in fingerprints:
        by_hour[hour].append(fp)
    ordered = [fp for fps in by_hour.values() for fp in fps]
    return ordered, b"".join(ordered), orjson.dumps([[str(h), str(len(fps))] for h, fps in by_hour.items()])


class RedisStore:
    """The worker's store: `await store.setup()` once, then snapshot/commit per batch."""

    def __init__(self, url: str, ns: str = "pulse") -> None:
        self._redis = connect_async(url, decode_responses=False)
        self._ns = ns

    async def setup(self) -> None:
        """Load (or replace) the Redis Functions library; safe to call from every worker."""
        try:
            await self._redis.function_load(LIBRARY, replace=True)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"cannot reach Redis to load functions: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()

    async def _fcall(self, name: str, shard: ShardId, *args: bytes | str) -> Any:
        try:
            try:
                return await self._redis.fcall(name, 1, shard_prefix(self._ns, shard), *args)
            except ResponseError as exc:
                if "Function not found" not in str(exc):
                    raise
                await self.setup()  # a restarted Redis without persistence lost the library
                return await self._redis.fcall(name, 1, shard_prefix(self._ns, shard), *args)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis unavailable during {name} for shard {shard}: {exc}") from exc

    async def snapshot(
        self,
        shard: ShardId,
        source: str,
        fingerprints: Sequence[tuple[int, bytes]],
        state_keys: Sequence[str],
        cached_version: int | None,
    ) -> Snapshot:
        ordered, blob, hours = _fingerprint_args(fingerprints)
        cached = "" if cached_version is None else str(cached_version)
        version, fence, seen, states, labels = await self._fcall(
            "pulse_snapshot", shard, source, cached, blob, hours, *state_keys
        )
        if len(seen) != len(ordered):
            raise ValueError(f"shard {shard}: {len(seen)} de-dup flags for {len(ordered)} fingerprints")
        return Snapshot(
            version=int(version),
            fence=int(fence),
            seen=frozenset(compress(ordered, seen.translate(_FLAGS))),
            states=dict(zip(state_keys, states, strict=True)),
            labels=None if labels is None else _labels(labels),
        )

    async def commit(self, shard: ShardId, commit: Commit) -> int:
        status, version = await self._fcall("pulse_commit", shard, *_payload(commit))
        if status == b"conflict":
            raise StoreConflict(
                f"shard {shard} moved to version {int(version)} (batch computed at {commit.expected_version})"
            )
        return int(version) if status == b"ok" else 0

    async def register(self, shard: ShardId) -> None:
        try:
            await self._redis.sadd(f"{self._ns}:shards", str(shard))
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis unavailable registering shard {shard}: {exc}") from exc


def _labels(flat: list[Any]) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for label, pairs in zip(flat[::2], flat[1::2], strict=True):
        result[label.decode()] = {
            pairs[i].decode(): int(float(pairs[i + 1])) for i in range(0, len(pairs), 2)
        }
    return result


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
        """`(function, key, *args)` calls through FCALL_RO in one pipeline; loads the library when
        this Redis does not have it (a restart without persistence, or no worker started yet)."""
        for attempt in (1, 2):
            pipe = self._redis.pipeline(transaction=False)
            for name, key, *args in calls:
                pipe.fcall_ro(name, 1, key, *args)
            try:
                return pipe.execute()
            except ResponseError as exc:
                if "Function not found" not in str(exc) or attempt == 2:
                    raise
                self._redis.function_load(LIBRARY, replace=True)
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
        except _UNAVAILABLE:
            return False
