"""The Faust app: one agent per topic, each a few lines — batch in, hand to the bridge."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import faust

from metrics_core.errors import PulseError, StoreUnavailable
from metrics_core.events.model import FAMILIES
from metrics_core.registry import family_logic
from metrics_core.settings import Settings
from metrics_core.store.base import ShardId
from metrics_core.store.redis_store import RedisStore, namespace
from streams.bridge import FamilyBridge, Source
from streams.fences import GuardedStore, StoreRewound, resume_positions
from streams.health import Progress, serve_health
from streams.kafka_admin import kafka_bootstrap, partition_counts, topic_identities
from streams.kafka_security import broker_credentials, client_options
from streams.producer import KafkaSender
from streams.transport import Rewind, broker_url

log = logging.getLogger(__name__)
T = TypeVar("T")


class Runtime:
    """What the agents share: the store, the producer and one bridge per family, built once."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.bridges: dict[str, FamilyBridge] = {}
        self.progress = Progress(settings.worker_stall_s, highwater=self._highwater)
        self.store: GuardedStore | None = None
        self._sources: dict[str, tuple[str, Source]] = {}  # topic -> (family, source)
        self._lock = asyncio.Lock()

    async def bridge(self, family: str) -> FamilyBridge:
        async with self._lock:
            if not self.bridges:
                await self._start()
        return self.bridges[family]

    async def _start(self) -> None:
        s = self.settings
        assert s.kafka_url and s.redis_url, "worker needs PULSE_KAFKA_URL and PULSE_REDIS_URL"
        bootstrap, security = kafka_bootstrap(s.kafka_url), client_options(s)
        redis_store = RedisStore(s.redis_url, namespace(s.topic_prefix))
        await redis_store.setup()
        store = GuardedStore(redis_store)
        sender = KafkaSender(s.kafka_url, client_id=f"{s.app_id}-worker", security=security)
        await sender.start()
        topics = [t for f in FAMILIES for t in (s.topic(f), s.repartition_topic(f))]
        identities = await topic_identities(bootstrap, topics, security)
        counts = await partition_counts(bootstrap, topics, security)
        for family in FAMILIES:
            own, again = s.topic(family), s.repartition_topic(family)
            sources = {
                own: Source(own, identities[own], rekey=True),
                again: Source(again, identities[again], rekey=False),
            }
            self._sources.update({topic: (family, source) for topic, source in sources.items()})
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
        self.store = store
        log.info("pulse worker ready: topics %s", counts)

    def failed(self, family: str, exc: PulseError) -> None:
        """A batch attempt failed; store failures show in pulse_store_errors_total."""
        if isinstance(exc, StoreUnavailable) and self.store is not None:
            self.store.failed(family)

    async def resume(self, tps: Iterable[Any]) -> dict[Any, int]:
        """Each partition's position in the store: its offset fence + 1 (streams/fences.py)."""
        return await retrying(partial(self._positions, tps), "reading the offset fences")

    async def audit(self, waiting: Iterable[Any]) -> dict[Any, int]:
        """Positions for the partitions waiting for their fence, and for those whose fence went back."""
        positions = await self._positions(waiting)
        topics = {source.identity: topic for topic, (_, source) in self._sources.items()}
        for field, fence in (await self.store.lost() if self.store else {}).items():
            log.error("the store lost commits of %s (Redis crash?): re-reading from %d", field, fence + 1)
            identity, _, partition = field.rpartition("|")
            positions[faust.types.TP(topics[identity], int(partition))] = fence + 1
        return positions

    async def _positions(self, tps: Iterable[Any]) -> dict[Any, int]:
        await self.bridge(FAMILIES[0])  # starts the runtime once
        assert self.store is not None
        return await resume_positions(tps, self._locate, self.store.fence)

    def _locate(self, tp: Any) -> tuple[ShardId, str] | None:
        found = self._sources.get(tp.topic)
        if found is None:
            return None
        family, source = found
        return ShardId(family, tp.partition), f"{source.identity}|{tp.partition}"

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            value = self.app.consumer.highwater(faust.types.TP(topic, partition))
            return int(value) if value is not None else None
        except Exception:  # lag is informative only; never fail a batch over it
            return None


async def retrying(
    call: Callable[[], Awaitable[T]],
    what: str,
    backoff_s: tuple[float, float] = (0.2, 10.0),
    on_retry: Callable[[PulseError], None] = lambda exc: None,
) -> T:
    """Retry a retriable failure (Redis or Kafka away) with capped exponential backoff.

    The batch is held meanwhile: nothing is committed, nothing dead-lettered, and the
    consumer lag shows the pause; `on_retry` counts each failed attempt.
    """
    delay, attempt = backoff_s[0], 0
    while True:
        try:
            return await call()
        except PulseError as exc:
            if not exc.retriable:
                raise
            attempt += 1
            on_retry(exc)
            log.warning("%s failed (attempt %d), retrying in %.1f s: %s", what, attempt, delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff_s[1])


def create_app(settings: Settings) -> faust.App:
    """The worker app. Topics must exist (`pulse run`/`pulse check --create-topics` create them)."""
    app = faust.App(
        settings.app_id,
        broker=broker_url(settings.kafka_url or ""),  # both delivery paths: it resumes from the fences
        broker_credentials=broker_credentials(settings),  # Faust's consumer and producer; None: PLAINTEXT
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
    app.__dict__.update(
        pulse_resume=runtime.resume,  # offset fences (streams/transport.py)
        pulse_audit=runtime.audit,
        pulse_fetch_wait_ms=settings.fetch_wait_ms,
    )
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

    async def apply(messages: Sequence[Any]) -> None:
        bridge = await retrying(lambda: runtime.bridge(family), f"{family} start")
        await retrying(
            partial(bridge.handle, messages), f"{family} batch", on_retry=partial(runtime.failed, family)
        )

    async def agent(stream: Any) -> None:
        async for events in stream.take_events(s.batch_size, s.batch_within_s):
            try:
                await apply([event.message for event in events])
            except StoreRewound as exc:  # the stream buffers later records: restart, resume at the fences
                log.critical("%s; stopping the worker", exc)
                await app.crash(exc)
                return

    async def handle_batch(messages: Sequence[Any]) -> None:  # the batching consumer's fast path
        try:
            await apply(messages)
        except StoreRewound as exc:  # re-read this delivery's partitions from their fences
            log.error("%s", exc)
            tps = {faust.types.TP(m.topic, m.partition) for m in messages}
            raise Rewind(await runtime.resume(tps)) from exc

    agent.__name__ = agent.__qualname__ = f"{family}_agent"
    if s.batch_delivery:
        handlers = app.__dict__.setdefault("pulse_batch_handlers", {})
        handlers.update(dict.fromkeys((s.topic(family), s.repartition_topic(family)), handle_batch))
    app.agent(topic, name=f"pulse.{family}", concurrency=1)(agent)
