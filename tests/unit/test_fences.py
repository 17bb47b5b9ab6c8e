"""The worker trusts the store's offset fences: lost commits are noticed, failed calls counted."""

from __future__ import annotations

import asyncio

import pytest

from metrics_core.errors import StoreConflict
from metrics_core.exposition import pipeline
from metrics_core.exposition.metricset import MetricSet
from metrics_core.families.changes import Spread
from metrics_core.store.base import Commit, ShardId
from metrics_core.store.memory import MemoryStore
from streams.fences import GuardedStore, StoreRewound, describe, resume_positions

SHARD = ShardId("clickstream", 0)
SOURCE = "cluster/clickstream/id|0"


def _commit(version: int, last_offset: int, source: str = SOURCE) -> Commit:
    return Commit(
        expected_version=version,
        source=source,
        last_offset=last_offset,
        fingerprints={},
        dedup_expire_ms=0,
        spread=Spread({(60_000, 0): {"pv\x1fshop": 1}}, {}),
        bucket_expiry_ms={60_000: 0},
        states={},
    )


def _rewind(memory: MemoryStore, fence: int) -> None:
    """What a Redis crash that lost commits looks like to the worker: the fence went back."""
    memory._shards[SHARD].fences[SOURCE] = fence


def test_failed_attempts_are_written_with_the_next_commit_once() -> None:
    memory = MemoryStore()
    store = GuardedStore(memory)
    store.failed("clickstream")
    store.failed("clickstream")
    store.failed("email")  # another family's shard reports it
    assert asyncio.run(store.commit(SHARD, _commit(0, 10))) == 1
    assert asyncio.run(store.commit(SHARD, _commit(1, 20))) == 2
    assert memory.pipeline([SHARD]) == [{"err": 2}]


def test_a_conflicting_commit_keeps_the_failures_pending() -> None:
    memory = MemoryStore()
    store = GuardedStore(memory)
    store.failed("clickstream")
    with pytest.raises(StoreConflict):
        asyncio.run(store.commit(SHARD, _commit(7, 10)))
    asyncio.run(store.commit(SHARD, _commit(0, 10)))
    assert memory.pipeline([SHARD]) == [{"err": 1}]


def test_concurrent_commits_of_two_partitions_write_the_failures_once() -> None:
    """A fetch's partitions commit concurrently (streams/bridge.py): one of them carries them."""

    class SlowStore(MemoryStore):
        async def commit(self, shard: ShardId, commit: Commit) -> int:
            await asyncio.sleep(0)  # the other partition's commit starts meanwhile
            return await super().commit(shard, commit)

    memory = SlowStore()
    store = GuardedStore(memory)
    other = ShardId("clickstream", 1)
    store.failed("clickstream")
    store.failed("clickstream")

    def written() -> int:
        return sum(p.get("err", 0) for p in memory.pipeline([SHARD, other]))

    asyncio.run(asyncio.wait_for(_both(store, other), 5))
    assert written() == 2
    asyncio.run(store.commit(SHARD, _commit(1, 20)))  # nothing pending any more, nothing taken back
    assert written() == 2


async def _both(store: GuardedStore, other: ShardId) -> None:
    await asyncio.gather(store.commit(SHARD, _commit(0, 10)), store.commit(other, _commit(0, 10)))


def test_a_fence_that_went_back_stops_the_batch_before_any_write() -> None:
    memory = MemoryStore()
    store = GuardedStore(memory)
    asyncio.run(store.commit(SHARD, _commit(0, 10)))
    asyncio.run(store.snapshot(SHARD, SOURCE, (), (), None))  # fence 10: fine
    _rewind(memory, 4)
    with pytest.raises(StoreRewound, match="went back from offset 10 to 4") as raised:
        asyncio.run(store.snapshot(SHARD, SOURCE, (), (), None))
    assert raised.value.fence == 4
    asyncio.run(store.snapshot(SHARD, SOURCE, (), (), None))  # reported once; re-read from 5 now


def test_the_audit_finds_lost_commits_of_idle_partitions() -> None:
    memory = MemoryStore()
    store = GuardedStore(memory)
    asyncio.run(store.commit(SHARD, _commit(0, 10)))
    asyncio.run(store.commit(SHARD, _commit(1, 3, source="cluster/clickstream.repartition/id|0")))
    assert asyncio.run(store.lost()) == {}
    _rewind(memory, 6)
    assert asyncio.run(store.lost()) == {SOURCE: 6}
    assert asyncio.run(store.lost()) == {}  # once


def test_partitions_resume_after_their_fence() -> None:
    memory = MemoryStore()
    store = GuardedStore(memory)
    asyncio.run(store.commit(SHARD, _commit(0, 41)))

    def locate(tp: tuple[str, int]) -> tuple[ShardId, str] | None:
        topic, partition = tp
        return (
            None
            if topic == "other"
            else (ShardId("clickstream", partition), f"cluster/{topic}/id|{partition}")
        )

    tps = [("clickstream", 0), ("clickstream", 1), ("other", 0)]
    positions = asyncio.run(resume_positions(tps, locate, store.fence))
    assert positions == {("clickstream", 0): 42, ("clickstream", 1): 0}  # none applied: from the start
    assert describe(positions, {("clickstream", 0): 30, ("clickstream", 1): 0}) == (
        "clickstream[0] at 42 (Kafka: 30)"
    )


def test_store_errors_are_exported_per_topic() -> None:
    out = MetricSet()
    pipeline.declare(out)
    pipeline.collect_family("clickstream", "clickstream", [{"err": 2}, {"err": 3}, {}], out)
    [errors] = [m for m in out.families() if m.name == "pulse_store_errors"]
    assert [(s.name, s.labels, s.value) for s in errors.samples] == [
        ("pulse_store_errors_total", {"topic": "clickstream"}, 5.0)
    ]


def test_the_audit_registers_the_shards_again() -> None:
    """A Redis crash can take back the registry entry too; the exporter would not read the shard."""
    memory = MemoryStore()
    store = GuardedStore(memory)
    asyncio.run(store.register(SHARD))
    memory._registered.clear()
    asyncio.run(store.lost())
    assert memory.shards() == [SHARD]
