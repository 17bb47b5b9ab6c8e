"""A Faust transport whose consumer hands each fetched batch of a topic to one handler call.

Faust delivers a message at a time: `Consumer._drain_messages` wraps every message in two
tasks (`wait_first(callback(message), suspend_flow.wait())`), then the conductor, the
channel queue and the stream each touch it again — about 200 µs of CPU per event, most of a
core at 4 k events/s. Pulse's work is per batch and partition anyway, so for the topics that
register a batch handler this consumer calls the handler once per topic and fetch, then acks
the messages for the periodic offset commit. Other topics keep Faust's path.

It is registered in Faust's own transport registry under the URL scheme `pulse://` (same
options as `kafka://`), so an app opts in with `broker="pulse://host:9092"`. Written to be
offered upstream as a `Consumer` option ("batch delivery for stateless batch agents").

The consumer also resumes where the store says (`streams/fences.py`): after Faust's seek to
the committed offsets on every assignment it seeks each partition to the position
`app.pulse_resume` gives (its offset fence + 1); a batch handler may raise `Rewind` to have
partitions re-read from given offsets instead of acking them; and between fetches it asks
`app.pulse_audit` every few seconds for partitions to re-read (their fence went back) or to
resume (paused while their fence could not be read). Faust's per-message path uses this
consumer too (no batch handlers), with the seek on assignment only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faust.transport import drivers
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from streams.fences import describe

log = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[Any]], Awaitable[None]]
Positions = Callable[[set[Any]], Awaitable[Mapping[Any, int]]]  # partitions -> where to read from
SCHEME = "pulse"
RESUME_TIMEOUT_S = 20.0  # Faust allows the whole seek `broker_request_timeout` (90 s)
AUDIT_EVERY_S = 5.0
AUDIT_TIMEOUT_S = 5.0


class Rewind(Exception):
    """Raised by a batch handler: seek these partitions to these offsets, do not ack the batch."""

    def __init__(self, positions: Mapping[Any, int]) -> None:
        super().__init__(f"rewind {dict(positions)}")
        self.positions = positions


class BatchingConsumer(aiokafka_driver.Consumer):
    """Consumer that delivers whole fetched batches to `app.pulse_batch_handlers[topic]`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting: set[Any] = set()  # paused until their fence can be read
        self._next_audit = 0.0
        self._sought_since_fetch: set[Any] = set()  # partitions a rebalance sought during the last fetch

    def _new_consumer_thread(self) -> PromptConsumerThread:
        return PromptConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _handlers(self) -> Mapping[str, BatchHandler]:
        return getattr(self.app, "pulse_batch_handlers", {})

    async def perform_seek(self) -> None:
        """Seek to the committed offsets (Faust), then to the positions the store gives."""
        await super().perform_seek()
        self._waiting = set()
        assigned = self.assignment()
        self._sought_since_fetch |= assigned  # a fetch in flight may hold records from before the seek
        await self._reposition(assigned)

    async def _reposition(self, tps: set[Any]) -> bool:
        """Seek partitions to the positions the store gives; if it cannot say, pause them until it can.

        False when they stay where Kafka's committed offsets put them (no store to ask).
        """
        resume: Positions | None = getattr(self.app, "pulse_resume", None)
        if resume is None:
            return False
        if not tps:
            return True
        try:
            positions = await asyncio.wait_for(resume(tps), RESUME_TIMEOUT_S)
        except Exception as exc:  # Redis away
            if not self._handlers():  # Faust's path has no audit to resume them later
                log.warning("offset fences not read (%s): resuming at Kafka's committed offsets", exc)
                return False
            log.warning("offset fences not read (%s): partitions paused until Redis answers", exc)
            self._waiting |= tps
            self.pause_partitions(tps)
            return True
        log.info("resuming at the offset fences: %s", describe(positions, self._committed_offset))
        await self._seek_to(positions)
        return True

    async def _audit(self) -> None:
        """Every few seconds, between deliveries: re-read what the store lost, resume waiting partitions."""
        audit: Positions | None = getattr(self.app, "pulse_audit", None)
        if audit is None or time.monotonic() < self._next_audit:
            return
        self._next_audit = time.monotonic() + AUDIT_EVERY_S
        waiting = self._waiting & self.assignment()
        try:
            positions = await asyncio.wait_for(audit(waiting), AUDIT_TIMEOUT_S)
        except Exception as exc:  # Redis away: next time
            log.debug("offset fence audit failed: %s", exc)
            return
        await self._seek_to(positions)
        if waiting:
            log.info("offset fences read: %d partition(s) resume", len(waiting))
            self.resume_partitions(waiting)
            self._waiting -= waiting

    async def _seek_to(self, positions: Mapping[Any, int]) -> None:
        assigned = self.assignment()
        positions = {tp: offset for tp, offset in positions.items() if tp in assigned}
        if not positions:
            return
        await self.seek_wait(positions)
        # Kafka's committed offset follows the store from now on (forward or back)
        self._committed_offset.update({tp: offset or None for tp, offset in positions.items()})
        for tp in positions:
            self._acked.pop(tp, None)
            self._acked_index.pop(tp, None)
            self._gap.pop(tp, None)

    async def _drain_messages(self, fetcher: Any) -> None:
        if not self._handlers():
            await super()._drain_messages(fetcher)
            return
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                fetched, others = await self._fetch()
                batches, others = await self._sort(fetched, others, await self._straddled())
                await self._deliver(batches, others)
                await self._audit()
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
            self.log.info("Broker stopped consumer, shutting down...")
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _straddled(self) -> set[Any]:
        """Partitions a rebalance sought while the last fetch was in flight, re-positioned at their fences.

        That fetch's records of them may come from either side of the seek: from before it
        (they would be applied past the position sought), or from after it (then dropping
        them skips them). So they are dropped, and the partitions sought again. Without
        `app.pulse_resume` nothing could seek them again: they are kept, as Faust does.
        """
        straddled = self._sought_since_fetch
        if straddled and await self._reposition(straddled & self.assignment()):
            return straddled
        return set()

    async def _fetch(self) -> tuple[dict[Any, list[Any]], list[Any]]:
        """One fetch: aiokafka's records by partition (taken as they come), the other topics' messages."""
        records: dict[Any, list[Any]] = {}
        others: list[Any] = []
        self._sought_since_fetch = set()
        await self.sleep(0)
        if self.should_stop:
            return records, others
        handlers = self._handlers()
        if self.flow_active:
            fetched, active = await self._wait_next_records(1.0)
            if not fetched or self.should_stop:
                return records, others
            buffered = self._buffered_partitions
            records = {
                tp: rs for tp, rs in fetched.items() if active is None or tp in active or tp in buffered
            }
        else:  # Faust's getmany waits for the flow (or seeks back), then reads: its messages
            async for tp, message in self.getmany(timeout=1.0):
                if tp.topic in handlers:  # batch topics stay on one path: the handler's
                    records.setdefault(tp, []).append(message)
                else:
                    others.append(message)
        return records, others

    async def _sort(
        self, records: Mapping[Any, list[Any]], others: list[Any], stale: set[Any]
    ) -> tuple[dict[str, dict[Any, list[Any]]], list[Any]]:
        """A fetch's records grouped by batch topic and partition, the rest as Faust's messages, in order.

        The records of `stale` partitions are dropped: they were sought while it was in flight.
        """
        handlers = self._handlers()
        batches: dict[str, dict[Any, list[Any]]] = {}
        for tp, tp_records in records.items():
            if tp in stale:
                continue
            tp_records = await self._fresh(tp, tp_records)
            if not tp_records:
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            if tp.topic in handlers:
                batches.setdefault(tp.topic, {})[tp] = tp_records
            else:
                others.extend(self._to_message(tp, record) for record in tp_records)
        return batches, others

    async def _fresh(self, tp: Any, records: list[Any]) -> list[Any]:
        """Drop records delivered before a seek; note offset gaps (compaction, txn markers) as Faust does."""
        last = self._read_offset[tp]
        if last is not None and records[0].offset < last:
            records = [r for r in records if r.offset >= last]
            if not records:
                return records
        first, final = records[0].offset, records[-1].offset
        contiguous = final - first == len(records) - 1 and not (last and first - last > 1)
        if not contiguous and self.app.topics.acks_enabled_for(tp.topic):
            previous = last
            for record in records:
                if previous and record.offset - previous > 1:
                    await self._add_gap(tp, previous + 1, record.offset)
                previous = record.offset
        self._read_offset[tp] = final
        return records

    def _ack_records(self, tp: Any, records: Sequence[Any]) -> None:
        """`Consumer.ack` for a whole partition batch at once: offsets join the next commit."""
        if not self.app.topics.acks_enabled_for(tp.topic):
            return
        with ack_lock:
            committed = self._committed_offset[tp]
            index = self._acked_index[tp]
            offsets = [
                r.offset
                for r in records
                if (committed is None or r.offset >= committed) and r.offset not in index
            ]
            index.update(offsets)
            self._acked[tp].extend(offsets)
            self._n_acked += len(offsets)
            notify(self._waiting_for_ack)

    async def _deliver(self, batches: Mapping[str, Mapping[Any, list[Any]]], others: list[Any]) -> None:
        handlers = self._handlers()
        for topic, by_tp in batches.items():
            if self.should_stop:
                return  # unacked: re-read after restart, and the offset fence skips what was applied
            try:
                await handlers[topic]([r for records in by_tp.values() for r in records])
            except Rewind as rewind:
                log.warning("re-reading from the offset fences: %s", describe(rewind.positions, {}))
                await self._seek_to(rewind.positions)
                continue  # not acked: the records are read again from the fences
            for tp, records in by_tp.items():
                self._ack_records(tp, records)
        for message in others:
            await self.wait_first(self.callback(message), self.suspend_flow.wait())
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()


class PromptConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, with the fetch wait the app asks for instead of a fixed 1.5 s.

    A broker that holds a fetch for its whole `fetch_max_wait_ms` even when records arrive
    meanwhile (Tansu does) would otherwise add up to 1.5 s to every event's way to Redis.
    """

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.app, "pulse_fetch_wait_ms", None)
        if wait_ms is not None:
            consumer._fetch_max_wait_ms = int(wait_ms)  # read by AIOKafkaConsumer.start()
        return consumer


class Transport(aiokafka_driver.Transport):
    Consumer = BatchingConsumer


drivers.TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")


def broker_url(kafka_url: str) -> str:
    """`kafka://h1:9092,h2:9092` -> `pulse://h1:9092,h2:9092` (the batching transport).

    >>> broker_url("kafka://127.0.0.1:9092")
    'pulse://127.0.0.1:9092'
    """
    return SCHEME + "://" + kafka_url.split("://", 1)[-1]
