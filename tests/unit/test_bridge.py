"""The bridge applies a fetch's partitions concurrently; which failure it reports matters."""

from __future__ import annotations

import time
from collections.abc import Sequence
from types import SimpleNamespace

import orjson
import pytest

from metrics_core.errors import StoreUnavailable
from metrics_core.registry import family_logic
from metrics_core.settings import Settings
from metrics_core.store.base import Commit, ShardId, Snapshot
from metrics_core.store.memory import MemoryStore
from streams.bridge import FamilyBridge, Source
from streams.fences import StoreRewound

NOW_S = int(time.time()) - 60  # inside the windows: not late


class Sender:
    async def send_batch(self, messages: Sequence[object]) -> None:
        pass


class FailingStore(MemoryStore):
    """Partition 0: Redis away; partition 1: the store lost commits (both at the snapshot)."""

    async def snapshot(self, shard: ShardId, source: str, *args: object, **kwargs: object) -> Snapshot:
        if shard.partition == 0:
            raise StoreUnavailable("Redis unavailable during pulse_snapshot")
        raise StoreRewound(shard, source, 198, 277)


def _message(partition: int, offset: int) -> SimpleNamespace:
    event = {"event_id": f"e{partition}-{offset}", "type": "survey.csat", "timestamp": NOW_S, "score": 5}
    event["response_id"] = f"r{partition}"
    return SimpleNamespace(
        topic="survey", partition=partition, offset=offset, key=None, value=orjson.dumps(event)
    )


async def test_a_lost_commit_is_reported_over_a_retriable_failure_of_another_partition() -> None:
    # A retry after the retriable failure would apply partition 1's records past the lost ones:
    # the store reports a loss once. So the loss must surface, and the partitions be re-read.
    bridge = FamilyBridge(
        Settings(windows="5m,1h"),
        family_logic("survey"),
        FailingStore(),
        Sender(),
        {"survey": Source("survey", "survey@1", rekey=False)},
        partitions=2,
    )
    with pytest.raises(StoreRewound):
        await bridge.handle([_message(0, 5), _message(1, 300)])


async def test_partitions_of_one_batch_are_applied_to_their_own_shards() -> None:
    store = MemoryStore()
    bridge = FamilyBridge(
        Settings(windows="5m,1h"),
        family_logic("survey"),
        store,
        Sender(),
        {"survey": Source("survey", "survey@1", rekey=False)},
        partitions=2,
    )
    outcomes = await bridge.handle([_message(0, 5), _message(1, 300), _message(0, 6)])
    assert sorted(o.applied for o in outcomes) == [1, 2]
    snap0 = await store.snapshot(ShardId("survey", 0), "survey@1|0", [], [], None)
    snap1 = await store.snapshot(ShardId("survey", 1), "survey@1|1", [], [], None)
    assert (snap0.fence, snap1.fence) == (6, 300)


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.commits: list[int] = []

    async def commit(self, shard: ShardId, commit: Commit) -> int:
        self.commits.append(commit.last_offset)
        return await super().commit(shard, commit)


async def test_a_partitions_records_are_applied_batch_size_at_a_time() -> None:
    store = CountingStore()
    bridge = FamilyBridge(
        Settings(windows="5m,1h", batch_size=2),
        family_logic("survey"),
        store,
        Sender(),
        {"survey": Source("survey", "survey@1", rekey=False)},
        partitions=1,
    )
    (outcome,) = await bridge.handle([_message(0, offset) for offset in range(10, 15)])
    assert store.commits == [11, 13, 14]  # three batches, in order
    assert (outcome.applied, outcome.fenced, outcome.attempts) == (5, False, 1)
    snap = await store.snapshot(ShardId("survey", 0), "survey@1|0", [], [], None)
    assert snap.fence == 14
    (again,) = await bridge.handle([_message(0, offset) for offset in range(10, 15)])
    assert again.fenced and again.applied == 0
