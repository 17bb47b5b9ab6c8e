"""`pulse simulate --count N --seed S` as a real process into real Tansu, with `pulse worker` and
`pulse exporter`: every simulated event is accepted and counted exactly once, every family and
every type as the generator made them, nothing rejected, duplicated or late."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from metrics_core.settings import Settings
from streams.commands import create_topics, settings_env
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.procs import free_port
from streams.simulation.mix import Traffic, timeline
from streams.simulation.run import TICK_MS
from tests.integration.harness import (
    log_tail,
    promtool_check,
    pulse_process,
    samples,
    scrape,
    total,
    wait_for,
)

pytestmark = pytest.mark.integration

COUNT = 3000
SEED = 424242
RATE = 1000


def expected_types() -> Counter[str]:
    """The types of the first COUNT events of the seed: the same whatever the start time."""
    ticks = timeline(Traffic(SEED, start_ms=0), 0, RATE, TICK_MS)
    events = itertools.islice((e for _, batch in ticks for e in batch), COUNT)
    return Counter(e["type"] for e in events)


def test_simulated_traffic_is_counted_exactly(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_prefix: str, tmp_path: Path, promtool: str
) -> None:
    port = free_port()
    settings = Settings(
        kafka_url=kafka.url,
        redis_url=redis_server.url,
        topic_prefix=topic_prefix,
        app_id=f"pulse-{topic_prefix}",
        partitions=2,
        windows="5m,1h",
        exporter_host="127.0.0.1",
        exporter_port=port,
        rebalance_timeout_s=3.0,
        batch_within_s=0.05,
    )
    asyncio.run(create_topics(settings))
    logs = lambda: log_tail(tmp_path)  # noqa: E731

    def accepted() -> float:
        return total(samples(scrape(port)), "pulse_events_total")

    with pulse_process("exporter", settings, tmp_path), pulse_process("worker", settings, tmp_path):
        command = ["simulate", "--count", str(COUNT), "--seed", str(SEED), "--rate", str(RATE)]
        sent = subprocess.run(
            [sys.executable, "-m", "streams.cli", *command],
            env=settings_env(settings),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert sent.returncode == 0, sent.stderr
        assert f"pulse simulate: sent {COUNT:,} events" in sent.stderr, sent.stderr
        wait_for(lambda: accepted() >= COUNT, 120, f"{COUNT} accepted events", logs)
        time.sleep(1.0)  # anything counted twice would show up as a mismatch below
        text = scrape(port)

    found = samples(text)
    assert total(found, "pulse_events_total") == COUNT  # exactly: nothing is invalid, nothing repeats
    by_type = {
        dict(labels)["type"]: v for (name, labels), v in found.items() if name == "pulse_events_total" and v
    }
    assert by_type == expected_types()
    for family in ("clickstream", "email", "social", "survey", "customer"):
        topic = settings.topic(family)
        assert total(found, "pulse_events_total", topic=topic) > 0, family
        for counter in (
            "pulse_events_rejected_total",
            "pulse_events_duplicate_total",
            "pulse_events_late_total",
        ):
            assert total(found, counter, topic=topic) == 0, (counter, family)
    assert total(found, "pulse_page_views", window="5m") > 0
    promtool_check(promtool, text)
