"""KafkaSink: all-or-nothing sends, timeouts as 503 material, lazy start with a cooldown."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

import pytest

from metrics_core.errors import BrokerUnavailable
from streams.gateway_sink import KafkaSink
from streams.producer import Message

MESSAGES: list[Message] = [("t", None, b"k", b"{}", [])]


class FakeSender:
    """Stands in for KafkaSender: `start` and `send` are "ok", "refused" or "hangs"."""

    made: ClassVar[list[FakeSender]] = []

    def __init__(self, url: str, client_id: str, start: str = "ok", send: str = "ok") -> None:
        self.start_mode, self.send_mode = start, send
        self.sent: list[Message] = []
        self.stopped = False
        FakeSender.made.append(self)

    async def start(self) -> None:
        if self.start_mode == "refused":
            raise BrokerUnavailable("cannot start the Kafka producer: connection refused")
        if self.start_mode == "hangs":
            await asyncio.sleep(60)

    async def send_batch(self, messages: Sequence[Message]) -> None:
        if self.send_mode == "hangs":
            await asyncio.sleep(60)
        if self.send_mode == "refused":
            raise BrokerUnavailable("Kafka did not take 1 messages")
        self.sent.extend(messages)

    async def stop(self) -> None:
        self.stopped = True


def sink(clock: list[float], **modes: str) -> KafkaSink:
    FakeSender.made = []

    def make(url: str, client_id: str) -> Any:
        return FakeSender(url, client_id, **modes)

    return KafkaSink("kafka://x:1", timeout_s=0.05, make_sender=make, clock=lambda: clock[0])


async def test_sends_after_a_lazy_start() -> None:
    s = sink([0.0])
    assert not s.connected
    await s.send(MESSAGES)
    assert s.connected and FakeSender.made[0].sent == MESSAGES
    await s.close()
    assert FakeSender.made[0].stopped


async def test_nothing_to_send_needs_no_kafka() -> None:
    s = sink([0.0], start="refused")
    await s.send([])
    assert FakeSender.made == []


@pytest.mark.parametrize("mode", ["hangs", "refused"])
async def test_a_send_that_fails_or_hangs_is_broker_unavailable(mode: str) -> None:
    s = sink([0.0], send=mode)
    with pytest.raises(BrokerUnavailable):
        await s.send(MESSAGES)


@pytest.mark.parametrize("mode", ["hangs", "refused"])
async def test_a_failed_start_cools_down_then_retries(mode: str) -> None:
    clock = [100.0]
    s = sink(clock, start=mode)
    with pytest.raises(BrokerUnavailable):
        await s.send(MESSAGES)
    with pytest.raises(BrokerUnavailable, match="a moment ago"):
        await s.send(MESSAGES)  # within the cooldown: no new attempt
    assert len(FakeSender.made) == 1
    clock[0] += 5
    with pytest.raises(BrokerUnavailable):
        await s.send(MESSAGES)
    assert len(FakeSender.made) == 2  # a fresh producer each attempt


async def test_connect_at_startup_never_raises() -> None:
    s = sink([0.0], start="refused")
    await s.connect()
    assert not s.connected
