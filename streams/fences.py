"""Resume from the store, not from Kafka: the offset fences in Redis say what has been applied.

Each commit writes its partition's offset fence in the same atomic Redis call as the batch
(DESIGN §4), so Redis knows exactly which records its state contains. Kafka's committed
offsets only approximate that: Faust commits them every few seconds (behind the fence after
a worker crash: the fence skips the replay), and a Redis crash with AOF `everysec` can lose
its last second of commits while Kafka's offsets already moved past them (ahead of the
fence: those records would never be applied again). So the worker trusts the fence
(`streams/transport.py` does the seeking):

- on every assignment each partition resumes at its fence + 1 (0 when the store has none);
  a partition whose fence cannot be read (Redis away) waits, paused, until it can;
- a batch whose partition's fence went backwards (the store lost commits this process made)
  raises `StoreRewound` before anything is written; the partitions are re-read from their
  fences;
- every few seconds the worker checks the fences of the partitions it applied, so an idle
  partition's lost commits are re-read too;
- failed store calls (Redis away) are counted and added to the next commit's pipeline
  counters, exported as `pulse_store_errors_total{topic}`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from metrics_core.exposition.pipeline import STORE_ERRORS
from metrics_core.store.base import Commit, ShardId, Snapshot, Store

log = logging.getLogger(__name__)

T = TypeVar("T")


class StoreRewound(Exception):
    """The store's fence of a source is behind what this process committed: it lost commits.

    Not a `PulseError`: retrying the batch cannot help; the partitions must be re-read.
    """

    def __init__(self, shard: ShardId, source: str, fence: int, applied: int) -> None:
        super().__init__(
            f"shard {shard}: the fence of {source} went back from offset {applied} to {fence} "
            "(Redis lost acknowledged writes, e.g. a crash with AOF everysec); re-reading from the fence"
        )
        self.source = source
        self.fence = fence


class GuardedStore:
    """A `Store` that notices lost commits and reports failed store calls in the next commit.

    >>> import asyncio
    >>> from metrics_core.store.memory import MemoryStore
    >>> store = GuardedStore(MemoryStore())
    >>> store.failed("clickstream")  # a batch attempt failed while Redis was away
    >>> asyncio.run(store.fence(ShardId("clickstream", 0), "c/clickstream/id|0"))  # nothing applied yet
    -1
    """

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self._applied: dict[str, tuple[ShardId, int]] = {}  # source -> (shard, highest offset applied)
        self._versions: dict[ShardId, int] = {}  # spares the label registry in fence reads
        self._errors: Counter[str] = Counter()  # family -> failed attempts not yet written
        self._registered: set[ShardId] = set()

    def failed(self, family: str) -> None:
        """One batch attempt of `family` failed because the store was away."""
        self._errors[family] += 1

    async def snapshot(
        self,
        shard: ShardId,
        source: str,
        fingerprints: Sequence[tuple[int, bytes]],
        state_keys: Sequence[str],
        cached_version: int | None,
    ) -> Snapshot:
        snap = await self._inner.snapshot(shard, source, fingerprints, state_keys, cached_version)
        _, applied = self._applied.get(source, (shard, -1))
        if snap.fence < applied:
            del self._applied[source]
            await self._inner.register(shard)  # the registry may be lost too; exporters read it
            raise StoreRewound(shard, source, snap.fence, applied)
        return snap

    async def commit(self, shard: ShardId, commit: Commit) -> int:
        # taken before the await: a concurrent commit of another partition must not write them too
        errors = self._errors.pop(shard.family, 0)
        if errors:
            pipeline = Counter(commit.pipeline)
            pipeline[STORE_ERRORS] += errors
            commit = replace(commit, pipeline=pipeline)
        try:
            version = await self._inner.commit(shard, commit)
        except BaseException:
            self._errors[shard.family] += errors  # not written: pending again
            raise
        if version:
            self._versions[shard] = version
        else:
            self._errors[shard.family] += errors  # fenced: nothing written
        # applied now, or before (fenced): either way the store holds this offset
        _, applied = self._applied.get(commit.source, (shard, -1))
        self._applied[commit.source] = (shard, max(applied, commit.last_offset))
        return version

    async def register(self, shard: ShardId) -> None:
        await self._inner.register(shard)
        self._registered.add(shard)

    async def fence(self, shard: ShardId, source: str) -> int:
        """The last applied offset of `source` in the store (-1: none); guarded from now on."""
        fence = await self._read_fence(shard, source)
        self._applied[source] = (shard, fence)
        return fence

    async def lost(self) -> dict[str, int]:
        """Sources whose fence went back below what was applied: source -> fence now.

        Also registers again every shard this process wrote: the registry (which shards the
        exporter reads) is derived state a Redis crash can take back as well.
        """
        for shard in sorted(self._registered):
            await self._inner.register(shard)
        found: dict[str, int] = {}
        for source, (shard, applied) in list(self._applied.items()):
            fence = await self._read_fence(shard, source)
            if fence < applied:
                found[source] = fence
                self._applied[source] = (shard, fence)
        return found

    async def _read_fence(self, shard: ShardId, source: str) -> int:
        snap = await self._inner.snapshot(shard, source, (), (), self._versions.get(shard))
        self._versions[shard] = snap.version
        return snap.fence


async def resume_positions(
    tps: Iterable[T],
    locate: Callable[[T], tuple[ShardId, str] | None],
    fence: Callable[[ShardId, str], Awaitable[int]],
) -> dict[T, int]:
    """Where each partition resumes: its fence + 1, or 0 when the store holds nothing of it.

    `locate` maps a topic partition to its (shard, fence source); None for a topic Pulse does
    not apply (it keeps Faust's position).
    """
    positions: dict[T, int] = {}
    for tp in tps:
        where = locate(tp)
        if where is not None:
            positions[tp] = await fence(*where) + 1
    return positions


def describe(positions: Mapping[Any, int], committed: Mapping[Any, int | None]) -> str:
    """`clickstream[0] at 120 (Kafka: 100)` for each partition whose position is not Kafka's."""
    moved = [
        f"{tp[0]}[{tp[1]}] at {offset} (Kafka: {committed.get(tp)})"
        for tp, offset in sorted(positions.items())
        if committed.get(tp) != offset
    ]
    return ", ".join(moved) or "none moved"
