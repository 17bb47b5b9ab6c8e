"""The Redis store: shard snapshots and atomic commits through the `pulse_v1` Redis Functions.

A standalone Redis (`redis://`, `rediss://` for TLS) or a Redis Cluster (`redis+cluster://`,
`rediss+cluster://`: any node; the client discovers the rest). Every script call touches one
shard, one hash slot, so the cluster needs nothing else of the worker. The exporter's side
is `redis_reader.RedisReader`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from importlib import resources
from itertools import compress
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.exceptions import ClusterError, ResponseError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from metrics_core.errors import StoreConflict, StoreUnavailable
from metrics_core.store.base import Commit, ShardId, Snapshot

LIBRARY = resources.files("metrics_core.store").joinpath("pulse.lua").read_text()
READ_LIBRARY = resources.files("metrics_core.store").joinpath("pulse_read.lua").read_text()  # exporter
_FLAGS = bytes.maketrans(b"01", b"\x00\x01")  # pulse_snapshot's de-dup flags -> falsy/truthy bytes
UNAVAILABLE = (  # the errors that mean Redis is away (not a bad call)
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    ClusterError,
    TryAgainError,
    SlotNotCoveredError,
)
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}

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
                name,
                [
                    [f"{width}:{start}", str(start + commit.bucket_expiry_ms[width])]
                    for width, start in buckets
                ],
                sorted(members),
            ]
            for (buckets, name), members in spread.uniques.items()
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
        """Load (or replace) the Redis Functions libraries, the exporter's too (so an exporter
        without the right to load them finds them); safe to call from every worker."""
        try:
            await self._redis.function_load(LIBRARY, replace=True)
            await self._redis.function_load(READ_LIBRARY, replace=True)
        except UNAVAILABLE as exc:
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
        except UNAVAILABLE as exc:
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
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"Redis unavailable registering shard {shard}: {exc}") from exc


def _labels(flat: list[Any]) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for label, pairs in zip(flat[::2], flat[1::2], strict=True):
        result[label.decode()] = {
            pairs[i].decode(): int(float(pairs[i + 1])) for i in range(0, len(pairs), 2)
        }
    return result
