"""`pulse rebuild`: wipe derived state so the workers replay every topic from its beginning.

Redis holds only what the events imply; Kafka holds the events. Rebuild deletes Pulse's keys
(its namespace only) and bumps the consumer-group epoch (streams/liveness.py): restarted
workers join a fresh group and replay from the start. `wait_caught_up` tells when they are
through. Run it with the workers stopped; it refuses while a worker's heartbeat is alive.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from metrics_core.errors import ConfigError
from metrics_core.events.model import FAMILIES
from metrics_core.settings import Settings
from metrics_core.store.redis_store import AsyncClient, connect_async, namespace
from streams.kafka_admin import kafka_bootstrap, partition_counts
from streams.kafka_security import client_options
from streams.liveness import epoch_key, group_id, live_workers

log = logging.getLogger(__name__)


def consumed_topics(settings: Settings) -> list[str]:
    return [t for f in FAMILIES for t in (settings.topic(f), settings.repartition_topic(f))]


async def wipe_redis(redis_url: str, ns: str) -> int:
    """Delete every key of the namespace (shard keys `{ns:…}` and `ns:…`) but the group epoch."""
    client = connect_async(redis_url)
    deleted = 0
    try:
        for pattern in (f"{{{ns}:*", f"{ns}:*"):
            batch: list[bytes] = []
            async for key in client.scan_iter(match=pattern, count=1000):
                if key.decode() == epoch_key(ns):
                    continue
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += await client.unlink(*batch)
                    batch = []
            if batch:
                deleted += await client.unlink(*batch)
    finally:
        await client.aclose()
    return deleted


async def _partitions(settings: Settings) -> list[TopicPartition]:
    assert settings.kafka_url
    counts = await partition_counts(
        kafka_bootstrap(settings.kafka_url), consumed_topics(settings), client_options(settings)
    )
    return [TopicPartition(t, p) for t, n in counts.items() for p in range(n)]


async def high_watermarks(settings: Settings) -> dict[TopicPartition, int]:
    assert settings.kafka_url
    tps = await _partitions(settings)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap(settings.kafka_url), **client_options(settings)
    )
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


def fence_topic_partition(field: str) -> tuple[str, int]:
    """`"cluster/clickstream/uuid|3"` -> ("clickstream", 3): whose offsets a fence field holds."""
    identity, _, partition = field.rpartition("|")
    return identity.split("/")[1], int(partition)


async def caught_up(settings: Settings, client: AsyncClient) -> bool:
    """Every partition's fence has reached its high watermark (re-read: forwards add records)."""
    ns = namespace(settings.topic_prefix)
    ends = await high_watermarks(settings)
    for tp, end in ends.items():
        if end == 0:
            continue
        family = next(f for f in FAMILIES if tp.topic in (settings.topic(f), settings.repartition_topic(f)))
        fences: dict[str, str] = await client.hgetall(f"{{{ns}:{family}:{tp.partition}}}:fence")  # type: ignore[assignment]
        applied = [int(v) for k, v in fences.items() if fence_topic_partition(k) == (tp.topic, tp.partition)]
        if not applied or max(applied) < end - 1:
            return False
    return True


async def wait_caught_up(settings: Settings, timeout_s: float, poll_s: float = 0.5) -> bool:
    assert settings.redis_url
    client = connect_async(settings.redis_url, decode_responses=True)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if await caught_up(settings, client):
                return True
            await asyncio.sleep(poll_s)
        return False
    finally:
        await client.aclose()


async def wait_no_workers(client: AsyncClient, ns: str, timeout_s: float, poll_s: float = 0.5) -> bool:
    """Wait for running workers to stop (their heartbeats expire within a few seconds)."""
    deadline = time.monotonic() + timeout_s
    while await live_workers(client, ns):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll_s)
    return True


async def rebuild(settings: Settings, wait_s: float = 0.0) -> tuple[int, int]:
    """Wipe derived state and move workers to a fresh consumer group; returns (keys deleted, epoch).

    Refuses while workers run, after waiting up to `wait_s` for them to stop. Start the
    workers again afterwards: they replay every topic from its beginning.
    """
    assert settings.redis_url
    ns = namespace(settings.topic_prefix)
    client = connect_async(settings.redis_url)
    try:
        if not await wait_no_workers(client, ns, wait_s):
            running = ", ".join(await live_workers(client, ns))
            raise ConfigError(f"workers are running ({running}): stop every `pulse worker` first")
        deleted = await wipe_redis(settings.redis_url, ns)
        epoch = int(await client.incr(epoch_key(ns)))
    finally:
        await client.aclose()
    log.info(
        "rebuild: deleted %d keys; workers will join group %s and replay from the start",
        deleted,
        group_id(settings.app_id, epoch),
    )
    return deleted, epoch
