"""The batching transport and Faust's classic per-event path give the same, exact counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from faust.transport import drivers

from metrics_core.settings import Settings
from streams.commands import create_topics
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.procs import free_port
from streams.transport import BatchingConsumer, Transport, broker_url
from tests.integration.harness import log_tail, pulse_process, samples, scrape, total, value, wait_for
from tests.integration.test_web_end_to_end import ACCEPTED, EXPECTED_1H, PART_ONE, PART_TWO, _produce


def test_pulse_scheme_is_registered_with_faust() -> None:
    assert drivers.by_url(broker_url("kafka://127.0.0.1:9092")) is Transport
    assert Transport.Consumer is BatchingConsumer


@pytest.mark.integration
@pytest.mark.parametrize("batch_delivery", [False, True])
def test_both_delivery_paths_count_exactly(
    kafka: EmbeddedKafka,
    redis_server: EmbeddedRedis,
    topic_prefix: str,
    tmp_path: Path,
    batch_delivery: bool,
) -> None:
    port = free_port()
    settings = Settings(
        kafka_url=kafka.url, redis_url=redis_server.url, topic_prefix=topic_prefix,
        app_id=f"pulse-{topic_prefix}", partitions=2, windows="5m,1h", exporter_host="127.0.0.1",
        exporter_port=port, rebalance_timeout_s=3.0, batch_within_s=0.05, batch_delivery=batch_delivery,
    )  # fmt: skip
    asyncio.run(create_topics(settings))
    asyncio.run(_produce(kafka.bootstrap, settings.topic("clickstream"), PART_ONE + PART_TWO))
    with pulse_process("exporter", settings, tmp_path), pulse_process("worker", settings, tmp_path):
        wait_for(
            lambda: total(samples(scrape(port)), "pulse_events_total") >= sum(ACCEPTED.values()),
            90,
            "all events",
            lambda: log_tail(tmp_path),
        )
        found = samples(scrape(port))
    for name, number in EXPECTED_1H.items():
        assert value(found, name, window="1h", property="shop") == pytest.approx(number), name
