"""`pulse rebuild`: wipe derived state, replay from the start, get the identical values."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from metrics_core.errors import ConfigError
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.rebuild import rebuild, wait_caught_up
from tests.integration.harness import (
    log_tail,
    produce,
    pulse_process,
    rebase,
    samples,
    scrape,
    stack_settings,
    total,
    wait_for,
)
from tests.integration.test_web_end_to_end import ACCEPTED, NOW_S, PART_ONE, PART_TWO

pytestmark = pytest.mark.integration

# Pipeline series that legitimately differ after a replay: batch timings, and duplicates
# (re-keyed events are forwarded again and met as duplicates of their first forward).
VOLATILE = ("pulse_batch_apply_seconds", "pulse_events_duplicate_total", "pulse_consumer_lag")


def _gauges(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {k: v for k, v in samples(text).items() if not k[0].startswith(VOLATILE)}


def test_rebuild_replays_to_identical_values(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_prefix: str, tmp_path: Path
) -> None:
    settings = stack_settings(kafka.url, redis_server.url, topic_prefix)
    port = settings.exporter_port
    asyncio.run(produce(kafka.bootstrap, settings.topic("clickstream"), rebase(PART_ONE + PART_TWO, NOW_S)))
    logs = lambda: log_tail(tmp_path)  # noqa: E731
    everything = sum(ACCEPTED.values())

    with pulse_process("exporter", settings, tmp_path):
        with pulse_process("worker", settings, tmp_path):
            wait_for(
                lambda: total(samples(scrape(port)), "pulse_events_total") >= everything,
                90,
                "the first pass",
                logs,
            )
            assert asyncio.run(wait_caught_up(settings, 30))
            before = _gauges(scrape(port))
            with pytest.raises(ConfigError, match="stop every `pulse worker` first"):
                asyncio.run(rebuild(settings))  # the worker's heartbeat is alive
        deleted, epoch = asyncio.run(rebuild(settings, wait_s=30))
        assert deleted > 0 and epoch == 1  # the next workers join group `<app_id>.r1`
        assert total(samples(scrape(port)), "pulse_events_total") == 0  # derived state is gone
        with pulse_process("worker", settings, tmp_path):
            assert asyncio.run(wait_caught_up(settings, 90)), logs()
            after = _gauges(scrape(port))

    assert total(before, "pulse_page_views") > 0
    assert after == before
