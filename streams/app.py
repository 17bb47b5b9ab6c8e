"""The Faust app: one agent per topic, each a few lines — batch in, hand to the bridge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import faust

from metrics_core.errors import PulseError
from metrics_core.events.model import FAMILIES
from metrics_core.registry import family_logic
from metrics_core.settings import Settings
from metrics_core.store.redis_store import RedisStore, namespace
from streams.bridge import FamilyBridge, Source
from streams.health import Progress, serve_health
from streams.kafka_admin import kafka_bootstrap, partition_counts, topic_identities
from streams.producer import KafkaSender
from streams.transport import broker_url

log = logging.getLogger(__name__)
T = TypeVar("T")


class Runtime:
    """What the agents share: the store, the producer and one bridge per family, built once."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.bridges: dict[str, FamilyBridge] = {}
        self.progress = Progress(settings.worker_stall_s, highwater=self._highwater)
        self._lock = asyncio.Lock()

    async def bridge(self, family: str) -> FamilyBridge:
        async with self._lock:
            if not self.bridges:
                await self._start()
        return self.bridges[family]

    async def _start(self) -> None:
        s = self.settings
        assert s.kafka_url and s.redis_url, "worker needs PULSE_KAFKA_URL and PULSE_REDIS_URL"
        bootstrap = kafka_bootstrap(s.kafka_url)
        store = RedisStore(s.redis_url, namespace(s.topic_prefix))
        await store.setup()
        sender = KafkaSender(s.kafka_url, client_id=f"{s.app_id}-worker")
        await sender.start()
        topics = [t for f in FAMILIES for t in (s.topic(f), s.repartition_topic(f))]
        identities = await topic_identities(bootstrap, topics)
        counts = await partition_counts(bootstrap, topics)
        for family in FAMILIES:
            own, again = s.topic(family), s.repartition_topic(family)
            sources = {
                own: Source(own, identities[own], rekey=True),
                again: Source(again, identities[again], rekey=False),
            }
            self.bridges[family] = FamilyBridge(
                s,
                family_logic(family),
                store,
                sender,
                sources,
                counts[own],
                highwater=self._highwater,
                progress=self.progress,
            )
        log.info("pulse worker ready: topics %s", counts)

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            value = self.app.consumer.highwater(faust.types.TP(topic, partition))
            return int(value) if value is not None else None
        except Exception:  # lag is informative only; never fail a batch over it
            return None


async def retrying(
    call: Callable[[], Awaitable[T]], what: str, backoff_s: tuple[float, float] = (0.2, 10.0)
) -> T:
    """Retry a retriable failure (Redis or Kafka away) with capped exponential backoff.

    The batch is held meanwhile: nothing is committed, nothing dead-lettered, and the
    consumer lag shows the pause.
    """
    delay, attempt = backoff_s[0], 0
    while True:
        try:
            return await call()
        except PulseError as exc:
            if not exc.retriable:
                raise
            attempt += 1
            log.warning("%s failed (attempt %d), retrying in %.1f s: %s", what, attempt, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff_s[1])


def create_app(settings: Settings) -> faust.App:
    """The worker app. Topics must exist (`pulse run`/`pulse check --create-topics` create them)."""
    app = faust.App(
        settings.app_id,
        broker=broker_url(settings.kafka_url or "") if settings.batch_delivery else settings.kafka_url,
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_session_timeout=max(10.0, settings.rebalance_timeout_s),
        broker_heartbeat_interval=min(3.0, settings.rebalance_timeout_s / 3),
        topic_partitions=settings.partitions,
    )
    runtime = Runtime(app, settings)
    for family in FAMILIES:
        _agent(app, runtime, family)

    async def health() -> None:  # GET /healthz once the worker runs (PULSE_WORKER_HEALTH_PORT)
        serve_health(runtime.progress, settings.worker_health_host, settings.worker_health_port)

    app.task(health)
    return app


def _agent(app: faust.App, runtime: Runtime, family: str) -> None:
    s = runtime.settings
    topic = app.topic(
        s.topic(family),
        s.repartition_topic(family),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    async def agent(stream: Any) -> None:
        bridge = await retrying(lambda: runtime.bridge(family), f"{family} start")
        async for events in stream.take_events(s.batch_size, s.batch_within_s):
            messages = [event.message for event in events]
            await retrying(partial(bridge.handle, messages), f"{family} batch")

    async def handle_batch(messages: Sequence[Any]) -> None:  # the batching consumer's fast path
        bridge = await retrying(lambda: runtime.bridge(family), f"{family} start")
        await retrying(partial(bridge.handle, messages), f"{family} batch")

    agent.__name__ = agent.__qualname__ = f"{family}_agent"
    handlers = app.__dict__.setdefault("pulse_batch_handlers", {})
    handlers.update(dict.fromkeys((s.topic(family), s.repartition_topic(family)), handle_batch))
    app.agent(topic, name=f"pulse.{family}", concurrency=1)(agent)
