"""A Redis outage loses nothing and dead-letters nothing: the worker holds the batch, retries with
backoff and resumes; meanwhile its /healthz, Kafka's consumer lag and, afterwards,
`pulse_store_errors_total` show the outage."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from metrics_core.settings import Settings
from streams.commands import create_topics
from streams.embedded import EmbeddedKafka
from streams.procs import free_port
from tests.conftest import RedisFactory
from tests.integration.harness import log_tail, pulse_process, samples, scrape, total, value, wait_for
from tests.integration.test_web_end_to_end import ACCEPTED, EXPECTED_1H, NOW_S, PART_ONE, PART_TWO
from tests.system.stack import rebased, send, system_settings

pytestmark = pytest.mark.integration

OUTAGE_S = 15.0  # longer than redis-py's own reconnect retries (~10 s), so Pulse's backoff shows
REJECTED = 4  # the dataset's garbage: 2 invalid JSON, 1 missing field, 1 wrong topic


def _health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def _kafka_lag(settings: Settings, group: str) -> int:
    """Records of the clickstream topic past the group's committed offsets."""
    assert settings.kafka_url
    bootstrap = settings.kafka_url.removeprefix("kafka://")
    tps = [TopicPartition(settings.topic("clickstream"), p) for p in range(settings.partitions)]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        ends = await consumer.end_offsets(tps)
        return sum(ends[tp] - max(0, committed[tp].offset if tp in committed else 0) for tp in tps)
    finally:
        await consumer.stop()
        await admin.close()


async def _dead_letters(settings: Settings) -> int:
    """Messages in the clickstream DLQ, read from the start (end offsets need not count records)."""
    assert settings.kafka_url
    consumer = AIOKafkaConsumer(
        settings.dlq_topic("clickstream"),
        bootstrap_servers=settings.kafka_url.removeprefix("kafka://"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        count = 0
        while batch := await consumer.getmany(timeout_ms=3000):
            count += sum(len(records) for records in batch.values())
        return count
    finally:
        await consumer.stop()


def test_a_redis_outage_pauses_the_worker_and_loses_nothing(
    kafka: EmbeddedKafka, redis_factory: RedisFactory, topic_prefix: str, tmp_path: Path
) -> None:
    redis = redis_factory(["--appendonly", "yes"])  # the restart keeps what was answered
    health_port = free_port()
    settings = system_settings(
        kafka.url, redis.url, topic_prefix, worker_health_port=health_port, worker_stall_s=3.0
    )
    asyncio.run(create_topics(settings))
    topic, port = settings.topic("clickstream"), settings.exporter_port
    part_one, part_two = rebased(PART_ONE, NOW_S), rebased(PART_TWO, NOW_S)
    logs = lambda: log_tail(tmp_path)  # noqa: E731
    with pulse_process("exporter", settings, tmp_path), pulse_process("worker", settings, tmp_path) as worker:
        asyncio.run(send(kafka.bootstrap, topic, part_one))
        wait_for(lambda: total(samples(scrape(port)), "pulse_events_total") >= 7, 90, "part one", logs)
        time.sleep(4.0)  # Faust commits part one's offsets
        redis.kill()
        down_since = time.monotonic()
        asyncio.run(send(kafka.bootstrap, topic, part_two))
        wait_for(lambda: _health(health_port) == 503, OUTAGE_S, "the worker's health to show the stall", logs)
        assert value(samples(scrape(port)), "pulse_up") == 0  # the exporter answers, and says so
        assert asyncio.run(_kafka_lag(settings, settings.app_id)) >= len(part_two)  # nothing acked
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_since)))
        assert worker.poll() is None, "the worker must wait for Redis, not exit"
        assert "batch failed (attempt" in logs(), "the batch is retried with backoff"
        redis.start()  # same port, same data
        wait_for(
            lambda: total(samples(scrape(port)), "pulse_events_total") >= sum(ACCEPTED.values()),
            90,
            "the held batch, once Redis is back",
            logs,
        )
        wait_for(lambda: _health(health_port) == 200, 30, "the worker's health to recover", logs)
        time.sleep(1.0)
        found = samples(scrape(port))
    for name, number in EXPECTED_1H.items():
        assert value(found, name, window="1h", property="shop") == pytest.approx(number), name
    assert total(found, "pulse_events_rejected_total") == REJECTED
    assert asyncio.run(_dead_letters(settings)) == REJECTED  # no good event dead-lettered
    assert value(found, "pulse_store_errors_total", topic=topic) >= 1  # the retries, counted


def test_a_rebalance_during_a_redis_outage_waits_for_the_fences(
    kafka: EmbeddedKafka, redis_factory: RedisFactory, topic_prefix: str, tmp_path: Path
) -> None:
    """Partitions assigned while Redis is away stay paused until their fences can be read."""
    redis = redis_factory(["--appendonly", "yes"])
    settings = system_settings(kafka.url, redis.url, topic_prefix)
    asyncio.run(create_topics(settings))
    topic, port = settings.topic("clickstream"), settings.exporter_port
    part_one, part_two = rebased(PART_ONE, NOW_S), rebased(PART_TWO, NOW_S)
    logs = lambda: log_tail(tmp_path)  # noqa: E731
    with pulse_process("exporter", settings, tmp_path), pulse_process("worker", settings, tmp_path):
        with pulse_process("worker", settings, tmp_path) as second:
            asyncio.run(send(kafka.bootstrap, topic, part_one))
            wait_for(lambda: total(samples(scrape(port)), "pulse_events_total") >= 7, 90, "part one", logs)
            redis.kill()
            second.terminate()  # a rebalance while Redis is away
            second.wait(30)
        asyncio.run(send(kafka.bootstrap, topic, part_two))
        wait_for(
            lambda: "partitions paused until Redis answers" in _all_logs(tmp_path), 60, "the pause", logs
        )
        redis.start()
        wait_for(
            lambda: total(samples(scrape(port)), "pulse_events_total") >= sum(ACCEPTED.values()),
            90,
            "everything, once the fences can be read",
            logs,
        )
        time.sleep(1.0)
        found = samples(scrape(port))
    assert "offset fences read" in _all_logs(tmp_path)
    for name, number in EXPECTED_1H.items():
        assert value(found, name, window="1h", property="shop") == pytest.approx(number), name


def _all_logs(directory: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in directory.glob("*.log"))
