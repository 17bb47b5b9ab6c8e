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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faust.transport import drivers
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as aiokafka_driver

BatchHandler = Callable[[Sequence[Any]], Awaitable[None]]
SCHEME = "pulse"


class BatchingConsumer(aiokafka_driver.Consumer):
    """Consumer that delivers whole fetched batches to `app.pulse_batch_handlers[topic]`."""

    def _handlers(self) -> Mapping[str, BatchHandler]:
        return getattr(self.app, "pulse_batch_handlers", {})

    async def _drain_messages(self, fetcher: Any) -> None:
        if not self._handlers():
            await super()._drain_messages(fetcher)
            return
        consumer_stopped = self._stopped.is_set
        fetcher_stopped = fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                self.diag.set_flag(CONSUMER_FETCHING)
                batches, others = await self._fetch()
                await self._deliver(batches, others)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if not self.transport.app.should_stop:
                raise
            self.log.info("Broker stopped consumer, shutting down...")
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)

    async def _fetch(self) -> tuple[dict[str, list[Any]], list[Any]]:
        """One getmany: messages of batch topics grouped by topic, the rest in order."""
        handlers = self._handlers()
        read_offset = self._read_offset
        batches: dict[str, list[Any]] = {}
        others: list[Any] = []
        await self.sleep(0)
        if self.should_stop:
            return batches, others
        async for tp, message in self.getmany(timeout=1.0):
            last = read_offset[tp]
            if last is not None and message.offset < last:
                continue  # already delivered before a seek: Faust drops these too
            if last and message.offset - last > 1 and self.app.topics.acks_enabled_for(tp.topic):
                await self._add_gap(tp, last + 1, message.offset)  # compaction or txn markers
            read_offset[tp] = message.offset
            if tp.topic in handlers:
                batches.setdefault(tp.topic, []).append(message)
            else:
                others.append(message)
        return batches, others

    async def _deliver(self, batches: Mapping[str, list[Any]], others: list[Any]) -> None:
        handlers = self._handlers()
        for topic, messages in batches.items():
            if self.should_stop:
                return  # unacked: re-read after restart, and the offset fence skips what was applied
            await handlers[topic](messages)
            for message in messages:
                self.ack(message)
        for message in others:
            await self.wait_first(self.callback(message), self.suspend_flow.wait())
        if self._commit_every is not None and self._n_acked >= self._commit_every:
            self._n_acked = 0
            await self.commit()


class Transport(aiokafka_driver.Transport):
    Consumer = BatchingConsumer


drivers.TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")


def broker_url(kafka_url: str) -> str:
    """`kafka://h1:9092,h2:9092` -> `pulse://h1:9092,h2:9092` (the batching transport).

    >>> broker_url("kafka://127.0.0.1:9092")
    'pulse://127.0.0.1:9092'
    """
    return SCHEME + "://" + kafka_url.split("://", 1)[-1]
