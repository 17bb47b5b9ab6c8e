"""The test infrastructure itself: embedded Tansu and Redis, topic admin, process stopping."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from metrics_core.errors import BrokerUnavailable, EmbeddedServerError
from streams import kafka_admin
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.kafka_admin import (
    cluster_metadata,
    delete_topics,
    ensure_topics,
    kafka_bootstrap,
    partition_counts,
    topic_identity,
)
from streams.procs import free_port, stop_process

pytestmark = pytest.mark.integration

AOF_ALWAYS = ["--appendonly", "yes", "--appendfsync", "always"]
IGNORE_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)


def _gone(pid: int, timeout_s: float = 5.0) -> bool:
    """True once `pid` has no live process (missing, or a zombie nobody reaped yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


# --- Kafka (Tansu)


def test_kafka_bootstrap_accepts_urls_and_bare_hosts() -> None:
    assert kafka_bootstrap("kafka://h1:9092,h2:9093") == "h1:9092,h2:9093"
    assert kafka_bootstrap("kafka://h1:9092;kafka://h2") == "h1:9092,h2:9092"
    assert kafka_bootstrap("127.0.0.1:19092") == "127.0.0.1:19092"


async def test_tansu_starts_and_answers_metadata(kafka: EmbeddedKafka) -> None:
    assert kafka.url == f"kafka://127.0.0.1:{kafka.port}"
    assert kafka_bootstrap(kafka.url) == kafka.bootstrap
    meta = await cluster_metadata(kafka.bootstrap, [])
    assert meta.cluster_id == kafka.cluster_id


async def test_ensure_topics_creates_partitions_idempotently(kafka: EmbeddedKafka, topic_prefix: str) -> None:
    topics = {f"{topic_prefix}clickstream": 4, f"{topic_prefix}clickstream.dlq": 4}
    missing = f"{topic_prefix}missing"

    assert await ensure_topics(kafka.bootstrap, topics, retention_ms=3_600_000) == topics
    assert await ensure_topics(kafka.bootstrap, topics) == topics
    assert await partition_counts(kafka.bootstrap, [*topics, missing]) == {**topics, missing: 0}
    assert await partition_counts(kafka.bootstrap, [missing]) == {missing: 0}  # not auto-created


async def test_produce_consume_round_trip(kafka: EmbeddedKafka, topic_prefix: str) -> None:
    topic = f"{topic_prefix}events"
    await ensure_topics(kafka.bootstrap, {topic: 4})
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(40)}

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
    await producer.start()
    try:
        for key, value in sent.items():
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    received, partitions = await _consume(kafka.bootstrap, topic, f"{topic_prefix}group", len(sent))
    assert received == sent
    assert len(partitions) > 1


async def _consume(bootstrap: str, topic: str, group: str, count: int) -> tuple[dict[bytes, bytes], set[int]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        rebalance_timeout_ms=3000,  # Tansu holds JoinGroup for a few seconds
    )
    received: dict[bytes, bytes] = {}
    partitions: set[int] = set()
    await consumer.start()
    try:
        async with asyncio.timeout(60):
            while len(received) < count:
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    partitions.add(tp.partition)
                    received.update((r.key, r.value) for r in records)
    finally:
        await consumer.stop()
    return received, partitions


async def test_topic_identity_differs_between_broker_starts() -> None:
    identities = []
    for _ in range(2):
        with EmbeddedKafka() as broker:
            await ensure_topics(broker.bootstrap, {"clickstream": 1})
            identity = await topic_identity(broker.bootstrap, "clickstream")
            assert identity.startswith(f"{broker.cluster_id}/clickstream/")
            identities.append(identity)
    assert identities[0] != identities[1]


async def test_topic_identity_changes_when_topic_is_recreated(
    kafka: EmbeddedKafka, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}survey"
    await ensure_topics(kafka.bootstrap, {topic: 2})
    before = await topic_identity(kafka.bootstrap, topic)
    assert await topic_identity(kafka.bootstrap, topic) == before
    cluster_id, name, topic_id = before.split("/")
    assert (cluster_id, name) == (kafka.cluster_id, topic)
    assert uuid.UUID(topic_id).int != 0

    await delete_topics(kafka.bootstrap, [topic])
    assert await partition_counts(kafka.bootstrap, [topic]) == {topic: 0}
    await ensure_topics(kafka.bootstrap, {topic: 2})

    after = await topic_identity(kafka.bootstrap, topic)
    assert after != before
    assert after.rsplit("/", 1)[0] == before.rsplit("/", 1)[0]


@pytest.mark.parametrize(("max_version", "parts"), [(12, 3), (10, 3), (5, 2)])
async def test_topic_identity_at_each_metadata_version(
    kafka: EmbeddedKafka,
    topic_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    max_version: int,
    parts: int,
) -> None:
    """v10 and v12 carry topic ids; a broker that stops at v5 yields `cluster/topic`."""
    prepare: Callable[..., Any] = kafka_admin._TopicMetadata.prepare

    def capped(self: Any, versions: dict[int, tuple[int, int]]) -> Any:
        return prepare(self, {**versions, 3: (0, max_version)})

    monkeypatch.setattr(kafka_admin._TopicMetadata, "prepare", capped)
    topic = f"{topic_prefix}email"
    assert await ensure_topics(kafka.bootstrap, {topic: 3}) == {topic: 3}
    identity = await topic_identity(kafka.bootstrap, topic)
    assert identity.split("/")[:2] == [kafka.cluster_id, topic]
    assert len(identity.split("/")) == parts


async def test_topic_identity_of_a_missing_topic_raises(kafka: EmbeddedKafka, topic_prefix: str) -> None:
    with pytest.raises(BrokerUnavailable, match="create it first"):
        await topic_identity(kafka.bootstrap, f"{topic_prefix}nope")


async def test_unreachable_broker_raises_broker_unavailable() -> None:
    with pytest.raises(BrokerUnavailable, match="did not answer"):
        await partition_counts(f"127.0.0.1:{free_port()}", ["clickstream"])


def test_start_failure_names_the_binary_and_shows_the_log(tmp_path: Path) -> None:
    fake = tmp_path / "fake-broker"
    fake.write_text("#!/bin/sh\necho 'boom: no such storage engine' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(EmbeddedServerError, match="fake-broker") as failure:
        EmbeddedKafka(fake).start()
    assert "boom: no such storage engine" in str(failure.value)


# --- Redis / Valkey


def test_valkey_is_the_embedded_default() -> None:
    with EmbeddedRedis() as server:
        assert "valkey" in Path(server.binary).name
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(server.url)
        assert client.info("server").get("server_name") == "valkey"
        client.close()


def test_redis_fixtures_give_a_fresh_server(redis_server: EmbeddedRedis, redis_client: redis.Redis) -> None:
    assert redis_server.port != 6379
    assert redis_client.dbsize() == 0
    redis_client.set("pulse:test", "1")
    assert redis_client.get("pulse:test") == b"1"


@pytest.mark.parametrize("flavor", ["redis", "valkey"])
def test_aof_keeps_an_incr_across_kill_9(redis_factory: Callable[..., EmbeddedRedis], flavor: str) -> None:
    server = redis_factory(AOF_ALWAYS, flavor=flavor)
    client = redis.Redis.from_url(server.url)
    assert client.incr("pulse:counter") == 1
    port = server.port

    server.kill()
    assert not server.running
    with pytest.raises(redis.ConnectionError):
        client.ping()
    server.restart()

    assert server.port == port
    assert client.get("pulse:counter") == b"1"
    client.close()


def test_stopped_servers_leave_no_process() -> None:
    with EmbeddedKafka() as broker, EmbeddedRedis() as server:
        pids = [broker.pid, server.pid]
    assert all(pid is not None and _gone(pid) for pid in pids)


# --- stop_process


def test_stop_process_escalates_to_sigkill() -> None:
    proc = subprocess.Popen([sys.executable, "-c", IGNORE_TERM], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"  # the SIGTERM handler is in place
    started = time.monotonic()

    assert stop_process(proc, grace_s=0.5) == -signal.SIGKILL
    assert time.monotonic() - started >= 0.5
    proc.stdout.close()


def test_stop_process_ends_the_whole_process_group() -> None:
    parent = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', {IGNORE_TERM!r}],\n"
        "                         stdout=subprocess.PIPE)\n"
        "child.stdout.readline()\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None
    child_pid = int(proc.stdout.readline())

    assert stop_process(proc, grace_s=0.5) == -signal.SIGTERM
    assert _gone(child_pid)
    proc.stdout.close()
