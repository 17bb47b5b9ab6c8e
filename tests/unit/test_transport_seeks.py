"""The batching consumer's seeks: no record skipped, none applied past a gap.

A real `BatchingConsumer` (built by a Faust app, not started) over an in-memory partition log
in place of the aiokafka thread, and a handler that applies records the way the store does:
each partition's offsets in order, exactly once, skipping what its fence covers and failing
on a gap. A handler's rewind and a rebalance's seek during a fetch must neither skip records
nor apply stale ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import faust
import pytest
from faust.types import TP

from streams.transport import BatchingConsumer, Rewind

TOPIC = "pulse.clickstream"
TPS = (TP(TOPIC, 0), TP(TOPIC, 1))
FETCH = 50  # records per partition and fetch


class Record:
    """What the consumer and the handler read of an aiokafka record."""

    def __init__(self, tp: TP, offset: int) -> None:
        self.topic, self.partition, self.offset = tp.topic, tp.partition, offset
        self.key = self.value = b""


class Broker:
    """The partition logs and the fetch positions of the consumer thread."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.position = dict.fromkeys(TPS, 0)
        self.fetches = 0
        # run while the next fetch is in flight: (before it reads, after it reads)
        self.during_fetch: dict[int, tuple[Callable[[], Awaitable[None]] | None, bool]] = {}

    async def fetch(self, wait_s: float) -> tuple[dict[TP, list[Record]], set[TP]]:
        self.fetches += 1
        hook, read_first = self.during_fetch.pop(self.fetches, (None, False))
        records: dict[TP, list[Record]] = {}
        if read_first or hook is None:
            records = self._read()
        if hook is not None:
            await hook()
            if not read_first:
                records = self._read()
        await asyncio.sleep(0.001)
        return records, set(TPS)

    def _read(self) -> dict[TP, list[Record]]:
        records = {}
        for tp, position in self.position.items():
            end = min(position + FETCH, self.length)
            if end > position:
                records[tp] = [Record(tp, o) for o in range(position, end)]
                self.position[tp] = end
        return records


class Store:
    """Offset fences and what was applied, as the Redis functions keep them."""

    def __init__(self) -> None:
        self.fence = dict.fromkeys(TPS, -1)
        self.applied: dict[TP, list[int]] = {tp: [] for tp in TPS}
        self.lose: dict[int, Mapping[TP, int]] = {}  # delivery number -> fences to go back to
        self.deliveries = 0

    async def handle(self, records: Sequence[Record]) -> None:
        self.deliveries += 1
        lost = self.lose.pop(self.deliveries, {})
        for tp, fence in lost.items():  # the store lost commits (Redis restarted from its AOF)
            self.fence[tp] = fence
            self.applied[tp] = [o for o in self.applied[tp] if o <= fence]
        for r in records:
            tp = TP(r.topic, r.partition)
            if r.offset <= self.fence[tp] or tp in lost:  # the bridge fails that partition
                continue
            assert r.offset == self.fence[tp] + 1, f"{tp}: gap before {r.offset} (fence {self.fence[tp]})"
            self.fence[tp] = r.offset
            self.applied[tp].append(r.offset)
        if lost:  # the bridge raises StoreRewound; the app re-reads all the delivery's partitions
            raise Rewind(
                {TP(r.topic, r.partition): self.fence[TP(r.topic, r.partition)] + 1 for r in records}
            )

    async def resume(self, tps: set[Any]) -> dict[Any, int]:
        return {tp: self.fence[tp] + 1 for tp in tps}

    async def audit(self, waiting: set[Any]) -> dict[Any, int]:
        return {tp: self.fence[tp] + 1 for tp in waiting}


class Fetcher:
    def __init__(self) -> None:
        self._stopped = asyncio.Event()


def consumer_over(broker: Broker, store: Store) -> BatchingConsumer:
    app = faust.App("pipeline-test", broker="pulse://127.0.0.1:1")
    app.pulse_batch_handlers = {TOPIC: store.handle}  # type: ignore[attr-defined]
    app.pulse_resume = store.resume  # type: ignore[attr-defined]
    app.pulse_audit = store.audit  # type: ignore[attr-defined]
    consumer = app.consumer
    assert isinstance(consumer, BatchingConsumer)

    async def seek_wait(partitions: Mapping[TP, int]) -> None:
        for tp, offset in partitions.items():  # as Faust's consumer thread does
            broker.position[tp] = offset
            consumer._read_offset[tp] = offset if offset > 0 else None

    async def seek_to_committed() -> dict[TP, int]:
        return {tp: broker.position[tp] for tp in TPS}  # nothing committed to Kafka: stay

    consumer._wait_next_records = broker.fetch  # type: ignore[method-assign,assignment]
    consumer.seek_wait = seek_wait  # type: ignore[method-assign]
    consumer.seek_to_committed = seek_to_committed  # type: ignore[method-assign]
    consumer.assignment = lambda: set(TPS)  # type: ignore[method-assign]
    consumer.highwater = lambda tp: broker.length  # type: ignore[method-assign]
    consumer._commit_every = None
    return consumer


async def drain(consumer: BatchingConsumer, store: Store, length: int) -> None:
    """Run the consumer's drain loop until every record is applied, then stop it."""
    fetcher = Fetcher()
    task = asyncio.ensure_future(consumer._drain_messages(fetcher))
    try:
        async with asyncio.timeout(10.0):
            while any(store.fence[tp] < length - 1 for tp in TPS):
                assert not task.done(), task.exception()
                await asyncio.sleep(0.005)
    finally:
        fetcher._stopped.set()
        await asyncio.wait_for(task, 5.0)


def exactly_once(store: Store, length: int) -> None:
    for tp in TPS:
        assert store.applied[tp] == list(range(length)), tp


async def test_every_record_is_applied_once_in_order() -> None:
    broker, store = Broker(length=400), Store()
    await drain(consumer_over(broker, store), store, 400)
    exactly_once(store, 400)


async def test_a_rewind_re_reads_from_the_fence() -> None:
    # delivery 3 (offsets 100..149) finds the store has lost partition 0's commits after 20
    broker, store = Broker(length=300), Store()
    store.lose[3] = {TPS[0]: 20}
    await drain(consumer_over(broker, store), store, 300)
    exactly_once(store, 300)


@pytest.mark.parametrize("read_first", [True, False], ids=["read-before-seek", "read-after-seek"])
async def test_a_rebalance_during_a_fetch_repositions_at_the_fences(read_first: bool) -> None:
    # during fetch 3 the store goes back to fence 30 (partition 1) and a rebalance seeks there;
    # the fetch may return records from before the seek (stale, past the fence) or after it
    # (valid, but then dropped): either way the partition re-reads from its fence
    broker, store = Broker(length=300), Store()
    consumer = consumer_over(broker, store)

    async def rebalance() -> None:
        store.fence[TPS[1]] = 30
        store.applied[TPS[1]] = [o for o in store.applied[TPS[1]] if o <= 30]
        await consumer.perform_seek()

    broker.during_fetch[3] = (rebalance, read_first)
    await drain(consumer, store, 300)
    exactly_once(store, 300)


async def test_without_offset_fences_a_rebalance_keeps_what_the_fetch_read() -> None:
    # an app without `pulse_resume` (Faust's committed offsets only): nothing could seek the
    # partitions again, so the records a straddling fetch read after the seek are delivered
    broker, store = Broker(length=300), Store()
    consumer = consumer_over(broker, store)
    del consumer.app.pulse_resume  # type: ignore[attr-defined]
    broker.during_fetch[3] = (consumer.perform_seek, False)
    await drain(consumer, store, 300)
    exactly_once(store, 300)
