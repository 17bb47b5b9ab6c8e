"""Where the gateway writes: Kafka through `KafkaSender` (acks=all, idempotent), or 503.

The producer is started lazily and again after a failure, so a gateway that starts while
Kafka is down serves 503s (with Retry-After) instead of exiting, and recovers on its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from metrics_core.errors import BrokerUnavailable
from streams.producer import KafkaSender, Message

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # what a 503 tells the sender to wait; vendors keep their own schedules
_START_COOLDOWN_S = 1.0  # after a failed start, answer 503 at once for this long


class Sink(Protocol):
    """`send` writes every message or raises `BrokerUnavailable`: all or nothing acknowledged."""

    @property
    def connected(self) -> bool: ...

    async def send(self, messages: Sequence[Message]) -> None: ...

    async def close(self) -> None: ...


class KafkaSink:
    """`await sink.send(messages)`: returns once Kafka acknowledged them all (acks=all).

    Raises `BrokerUnavailable` when Kafka cannot be reached or does not acknowledge within
    `timeout_s`. Messages already handed to the producer may still be written after that:
    the sender retries, and the worker de-duplicates the retry by `event_id`.
    """

    def __init__(
        self,
        kafka_url: str,
        timeout_s: float,
        make_sender: Callable[[str, str], KafkaSender] = KafkaSender,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kafka_url = kafka_url
        self._timeout_s = timeout_s
        self._make_sender = make_sender
        self._clock = clock
        self._sender: KafkaSender | None = None
        self._failed_at: float | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._sender is not None

    async def connect(self) -> None:
        """Start the producer now (at startup); a failure is logged, not raised."""
        try:
            await self._started()
        except BrokerUnavailable as exc:
            log.warning("Kafka is unavailable (%s); answering 503 until it is back", exc)

    async def send(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        sender = await self._started()
        try:
            await asyncio.wait_for(sender.send_batch(messages), self._timeout_s)
        except TimeoutError:
            raise BrokerUnavailable(
                f"Kafka did not acknowledge {len(messages)} message(s) within {self._timeout_s:g} s"
            ) from None

    async def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is None:
            return
        try:  # the producer flushes what it holds; with Kafka gone that would wait for its timeout
            await asyncio.wait_for(sender.stop(), self._timeout_s)
        except (TimeoutError, BrokerUnavailable) as exc:
            log.warning("the Kafka producer did not stop cleanly: %s", exc or "timed out")

    async def _started(self) -> KafkaSender:
        async with self._lock:
            if self._sender is not None:
                return self._sender
            if self._failed_at is not None and self._clock() - self._failed_at < _START_COOLDOWN_S:
                raise BrokerUnavailable("Kafka was unreachable a moment ago")
            sender = self._make_sender(self._kafka_url, "pulse-gateway")
            try:
                await asyncio.wait_for(sender.start(), self._timeout_s)
            except BrokerUnavailable:
                self._failed_at = self._clock()
                raise
            except TimeoutError:
                self._failed_at = self._clock()
                await _quietly_stop(sender)
                raise BrokerUnavailable(
                    f"cannot start the Kafka producer: no answer within {self._timeout_s:g} s"
                ) from None
            self._sender, self._failed_at = sender, None
            log.info("gateway: Kafka producer started")
            return sender


async def _quietly_stop(sender: KafkaSender) -> None:
    try:
        await asyncio.wait_for(sender.stop(), 2.0)
    except Exception as exc:  # cleaning up after a failure must not hide it
        log.debug("stopping a producer that never started: %s", exc)
