"""The Redis store and the in-memory store agree on de-duplication and fences (real Redis)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace

import orjson
import pytest
import redis.asyncio as aioredis

from metrics_core.families.changes import Spread
from metrics_core.store.base import Commit, ShardId, Store, dedup_bucket, fingerprint
from metrics_core.store.memory import MemoryStore
from metrics_core.store.redis_store import RedisStore, _payload, shard_prefix
from streams.embedded import EmbeddedRedis

HOUR_MS = 3_600_000
NOW_MS = int(time.time() * 1000)  # Redis expires the de-dup sets from then on
SHARD = ShardId("clickstream", 0)
SOURCE = "cluster/clickstream/topic-id|0"


def _fps(ids: range, hour: int) -> list[tuple[int, bytes]]:
    """Fingerprints of `e<i>` for i in ids, stamped in the given hour before NOW_MS."""
    ts = NOW_MS - hour * HOUR_MS
    return [(dedup_bucket(ts), fingerprint(f"e{i}")) for i in ids]


def _commit(version: int, last_offset: int, fps: list[tuple[int, bytes]]) -> Commit:
    by_hour: dict[int, list[bytes]] = {}
    for hour, fp in fps:
        by_hour.setdefault(hour, []).append(fp)
    return Commit(
        expected_version=version,
        source=SOURCE,
        last_offset=last_offset,
        fingerprints=by_hour,
        dedup_expire_ms=NOW_MS + 72 * HOUR_MS,
        spread=Spread({}, {}),
        bucket_expiry_ms={},
        states={},
    )


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    server: EmbeddedRedis = request.getfixturevalue("redis_server")
    redis_store = RedisStore(server.url, "pulse")
    await redis_store.setup()
    yield redis_store
    await redis_store.close()


@pytest.mark.integration
async def test_seen_fingerprints_over_hours_and_past_one_call_chunk(store: Store) -> None:
    # 2 500 fingerprints in three hours: more than one SMISMEMBER/SADD chunk (1 000) per hour
    first = _fps(range(0, 1500), hour=0) + _fps(range(1500, 2500), hour=5)
    snap = await store.snapshot(SHARD, SOURCE, first, [], None)
    assert (snap.version, snap.fence, snap.seen) == (0, -1, frozenset())
    assert await store.commit(SHARD, _commit(0, 99, first)) == 1

    # half old (the same ids in the same hours), half new, in another order and a third hour
    second = (
        _fps(range(2000, 1000, -1), hour=0) + _fps(range(1500, 1700), hour=5) + _fps(range(9000, 9300), 7)
    )
    snap = await store.snapshot(SHARD, SOURCE, second, [], 1)
    expected = {fp for hour, fp in second if (hour, fp) in set(first)}
    assert len(expected) == 499 + 200  # e1001..e1499 in hour 0, e1500..e1699 in hour 5 (sets are per hour)
    assert snap.seen == frozenset(expected)
    assert (snap.version, snap.fence) == (1, 99)


@pytest.mark.integration
async def test_a_fenced_commit_changes_nothing(store: Store) -> None:
    fps = _fps(range(10), hour=0)
    assert await store.commit(SHARD, _commit(0, 41, fps)) == 1
    assert await store.commit(SHARD, _commit(1, 41, _fps(range(10, 20), hour=0))) == 0  # replayed batch
    snap = await store.snapshot(SHARD, SOURCE, _fps(range(20), hour=0), [], None)
    assert snap.seen == frozenset(fp for _, fp in fps)
    assert (snap.version, snap.fence) == (1, 41)


@pytest.mark.integration
async def test_entity_states_are_stored_replaced_and_deleted_byte_for_byte(store: Store) -> None:
    keep_ms = NOW_MS + HOUR_MS
    quoted = b'[[1,2,"/a \\"b\\"",true]]'  # JSON with escaped quotes: stored exactly
    first = replace(
        _commit(0, 10, []), states={"k1": (quoted, keep_ms), "k2": (b"x", keep_ms), "k3": (b"", keep_ms)}
    )
    assert await store.commit(SHARD, first) == 1
    snap = await store.snapshot(SHARD, SOURCE, [], ["k1", "k2", "k3", "k4"], None)
    assert snap.states == {"k1": quoted, "k2": b"x", "k3": b"", "k4": None}

    second = replace(_commit(1, 11, []), states={"k1": (None, 0), "k2": ("é".encode() * 3, keep_ms)})
    assert await store.commit(SHARD, second) == 2
    snap = await store.snapshot(SHARD, SOURCE, [], ["k1", "k2", "k3"], 2)
    assert snap.states == {"k1": None, "k2": "ééé".encode(), "k3": b""}


@pytest.mark.integration
async def test_a_unique_set_member_sent_once_lands_in_the_bucket_of_every_tier(
    redis_server: EmbeddedRedis,
) -> None:
    store = RedisStore(redis_server.url, "pulse")
    await store.setup()
    tiers = ((5_000, NOW_MS - NOW_MS % 5_000), (60_000, NOW_MS - NOW_MS % 60_000))
    spread = Spread({}, {(tiers, "uv\x1fshop"): {"v1", "v2"}})
    commit = replace(_commit(0, 10, []), spread=spread, bucket_expiry_ms={5_000: HOUR_MS, 60_000: HOUR_MS})
    body = orjson.loads(_payload(commit)[0])
    assert body["h"] == [["uv\x1fshop", [[f"{w}:{s}", str(s + HOUR_MS)] for w, s in tiers], ["v1", "v2"]]]
    assert await store.commit(SHARD, commit) == 1

    # a worker of the earlier release sends one entry per bucket: [width:start:name, expire at, members]
    prefix = shard_prefix("pulse", SHARD)
    client = aioredis.from_url(redis_server.url, decode_responses=True)
    old = {
        **body,
        "v": "1",
        "off": "11",
        "h": [[f"5000:{tiers[0][1]}:au\x1fshop", str(NOW_MS + HOUR_MS), ["u1"]]],
    }
    assert await client.fcall("pulse_commit", 1, prefix, orjson.dumps(old), b"", b"") == ["ok", 2]
    counts = {key: await client.pfcount(key) for key in await client.keys(f"{prefix}:h:*")}
    ttls = [await client.pttl(key) for key in counts]
    await client.aclose()
    await store.close()
    assert counts == {
        f"{prefix}:h:5000:{tiers[0][1]}:uv\x1fshop": 2,
        f"{prefix}:h:60000:{tiers[1][1]}:uv\x1fshop": 2,
        f"{prefix}:h:5000:{tiers[0][1]}:au\x1fshop": 1,
    }
    assert all(ttl > 0 for ttl in ttls)
