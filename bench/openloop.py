"""An open-loop producer: web traffic at a fixed rate, stamped at send time, whatever the consumer does.

Open loop means the schedule never waits for the system under test: events are due at
`rate × elapsed` and go out on time (or, when this process itself falls behind, as soon as it
can, which `achieved_rate` shows), so a slow worker shows as lag and latency, not as a slower
producer.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import orjson

from bench.common import SEED, new_producer
from metrics_core.routing import partition_for
from streams.simulation.mix import routing
from streams.simulation.web import WebTraffic

TICK_S = 0.01
MAX_BURST_S = 0.5  # a late tick sends at most this much traffic at once


class OpenLoop:
    """`async with OpenLoop(bootstrap, topic, rate, partitions) as loop: await loop.run(10.0)`."""

    def __init__(self, bootstrap: str, topic: str, rate: float, partitions: int, seed: int = SEED) -> None:
        self.topic = topic
        self.rate = rate
        self.partitions = partitions
        self.producer = new_producer(bootstrap, "pulse-bench-openloop")
        self.traffic = WebTraffic(random.Random(seed), ("shop",), random.Random(f"{seed}/{time.time()}"))
        self.sent = 0  # background traffic handed to the producer
        self.extra = 0  # markers and other events sent with `send`
        self.acked = 0
        self._pending: list[tuple[asyncio.Future[Any], int]] = []  # (delivery, events in it)
        self._t0: float | None = None

    async def __aenter__(self) -> OpenLoop:
        await self.producer.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is None:
                await self.flush()
        finally:
            await self.producer.stop()

    async def send(self, event: dict[str, Any]) -> None:
        """Send one event now (a marker), besides the background traffic."""
        self._pending.append(
            (await self.producer.send(self.topic, orjson.dumps(event), key=routing(event)), 1)
        )
        self.extra += 1

    async def run(self, seconds: float, hook: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Produce for `seconds` (or until `hook()` returns True), calling `hook` every tick."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await self._tick()
            if hook is not None and await hook():
                return
            await asyncio.sleep(TICK_S)

    async def flush(self) -> None:
        await self.producer.flush()
        self._reap()

    @property
    def achieved_rate(self) -> float:
        if self._t0 is None:
            return 0.0
        return self.sent / max(time.monotonic() - self._t0, 1e-9)

    async def _tick(self) -> None:
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        due = min(int(self.rate * (now - self._t0)) - self.sent, int(self.rate * MAX_BURST_S))
        if due > 0:
            await self._send_batches(self.traffic.events(int(time.time() * 1000), due))
            self.sent += due
        self._reap()

    async def _send_batches(self, events: list[dict[str, Any]]) -> None:
        """One record batch per partition (Kafka's default partitioner: murmur2 of the key).

        `send` per message costs ~60 µs of this process's CPU under load, as much as the worker
        spends per event; batches cost a few µs, so the producer leaves the cores to the worker.
        """
        by_partition: defaultdict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        for event in events:
            key = routing(event)
            by_partition[partition_for(key.decode(), self.partitions)].append((key, orjson.dumps(event)))
        for partition, records in by_partition.items():
            batch, count = self.producer.create_batch(), 0
            for key, value in records:
                if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, go on
                    await self._send_batch(batch, partition, count)
                    batch, count = self.producer.create_batch(), 0
                    batch.append(key=key, value=value, timestamp=None)
                count += 1
            await self._send_batch(batch, partition, count)

    async def _send_batch(self, batch: Any, partition: int, count: int) -> None:
        batch.close()
        self._pending.append((await self.producer.send_batch(batch, self.topic, partition=partition), count))

    def _reap(self) -> None:
        done = [(f, n) for f, n in self._pending if f.done()]
        if not done:
            return
        self._pending = [(f, n) for f, n in self._pending if not f.done()]
        for future, count in done:
            future.result()  # a failed send fails the benchmark
            self.acked += count
