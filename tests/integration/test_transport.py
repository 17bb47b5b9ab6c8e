"""The batching transport and Faust's classic per-event path give the same, exact counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from faust.transport import drivers

from metrics_core.settings import Settings
from streams.app import create_app
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.transport import BatchingConsumer, Transport, broker_url
from tests.integration.harness import (
    accepted,
    log_tail,
    produce,
    pulse_process,
    rebase,
    samples,
    scrape,
    stack_settings,
    value,
    wait_for,
)
from tests.integration.test_web_end_to_end import ACCEPTED, EXPECTED_1H, NOW_S, PART_ONE, PART_TWO


def test_pulse_scheme_is_registered_with_faust() -> None:
    assert drivers.by_url(broker_url("kafka://127.0.0.1:9092")) is Transport
    assert Transport.Consumer is BatchingConsumer


async def test_the_worker_consumer_fetches_with_the_fetch_wait_setting() -> None:
    """Not Faust's fixed 1 500 ms: Tansu holds every fetch that long (BENCHMARKS.md, freshness)."""
    settings = Settings(kafka_url="kafka://127.0.0.1:1", redis_url="redis://127.0.0.1:1/0", fetch_wait_ms=250)
    app = create_app(settings)
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 250
    finally:
        await consumer.stop()


@pytest.mark.integration
@pytest.mark.parametrize("batch_delivery", [False, True])
def test_both_delivery_paths_count_exactly(
    kafka: EmbeddedKafka,
    redis_server: EmbeddedRedis,
    topic_prefix: str,
    tmp_path: Path,
    batch_delivery: bool,
) -> None:
    settings = stack_settings(kafka.url, redis_server.url, topic_prefix, batch_delivery=batch_delivery)
    port = settings.exporter_port
    asyncio.run(produce(kafka.bootstrap, settings.topic("clickstream"), rebase(PART_ONE + PART_TWO, NOW_S)))
    with pulse_process("exporter", settings, tmp_path), pulse_process("worker", settings, tmp_path):
        wait_for(
            lambda: accepted(port) >= sum(ACCEPTED.values()), 90, "all events", lambda: log_tail(tmp_path)
        )
        found = samples(scrape(port))
    for name, number in EXPECTED_1H.items():
        assert value(found, name, window="1h", property="shop") == pytest.approx(number), name
