"""The recovery point: Redis loses its last second of commits, nothing is lost in the end.

Kafka's committed offsets are already past the lost commits; the worker resumes from the
offset fences in Redis instead (streams/fences.py), whether it restarts after the crash or
keeps running through it.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from streams.commands import create_topics
from streams.embedded import EmbeddedKafka
from tests.integration.harness import log_tail, pulse_process, samples, scrape, total, value, wait_for
from tests.integration.test_web_end_to_end import ACCEPTED, EXPECTED_1H, NOW_S, PART_ONE, PART_TWO
from tests.system import redis_crash
from tests.system.stack import rebased, send, system_settings

pytestmark = [
    pytest.mark.integration,
]


@pytest.fixture(autouse=True)
def _debian_redis() -> None:
    """Never skipped: without Debian's redis-server and redis-check-aof the test fails, saying why."""
    if not redis_crash.available():
        pytest.fail("needs Debian's redis-server and redis-check-aof: run `make tools`", pytrace=False)


PART_ONE_ACCEPTED = 7  # part one: 8 records, one of them garbage
EVERYTHING = sum(ACCEPTED.values())


def _accepted(port: int) -> float:
    return total(samples(scrape(port)), "pulse_events_total")


def _check(port: int) -> None:
    found = samples(scrape(port))
    for name, number in EXPECTED_1H.items():
        got = value(found, name, window="1h", property="shop")
        assert got == pytest.approx(number), f"{name}[1h] = {got}, expected {number}"
    assert total(found, "pulse_events_total") == EVERYTHING


@pytest.mark.parametrize(
    ("worker_restarts", "batch_delivery", "lose_all"),
    [
        (True, True, False),
        (False, True, False),
        (True, False, False),
        (True, True, True),
        (False, True, True),
    ],
    ids=[
        "worker-restarts",
        "worker-keeps-running",
        "per-message-path-worker-restarts",
        "redis-loses-everything-worker-restarts",
        "redis-loses-everything-worker-keeps-running",
    ],
)
def test_commits_lost_by_a_redis_crash_are_applied_again(
    kafka: EmbeddedKafka,
    topic_prefix: str,
    tmp_path: Path,
    worker_restarts: bool,
    batch_delivery: bool,
    lose_all: bool,
) -> None:
    """Part two's commits (or everything: `lose_all`) are gone from Redis, not from Kafka."""
    redis = redis_crash.aof_redis(tmp_path / "redis").start()
    try:
        settings = system_settings(kafka.url, redis.url, topic_prefix, batch_delivery=batch_delivery)
        asyncio.run(create_topics(settings))
        topic, port = settings.topic("clickstream"), settings.exporter_port
        logs = lambda: log_tail(tmp_path)  # noqa: E731
        part_one, part_two = rebased(PART_ONE, NOW_S), rebased(PART_TWO, NOW_S)  # one shift for both
        with (
            pulse_process("exporter", settings, tmp_path),
            pulse_process("worker", settings, tmp_path) as worker,
        ):
            asyncio.run(send(kafka.bootstrap, topic, part_one))
            wait_for(lambda: _accepted(port) >= PART_ONE_ACCEPTED, 90, "part one", logs)
            time.sleep(1.5)  # part one's commits carry an earlier AOF second than part two's
            cut = int(time.time())
            time.sleep(1.5)
            asyncio.run(send(kafka.bootstrap, topic, part_two))
            wait_for(lambda: _accepted(port) >= EVERYTHING, 90, "part two", logs)
            time.sleep(4.0)  # Faust commits part two's offsets to Kafka (every 2.8 s)
            if worker_restarts:
                worker.terminate()
                worker.wait(30)
            redis_crash.lose_writes_after(redis, 1 if lose_all else cut)  # part two's commits are gone
            assert _accepted(port) < (1 if lose_all else EVERYTHING), "the crash was meant to lose them"
            if worker_restarts:
                with pulse_process("worker", settings, tmp_path):
                    wait_for(lambda: _accepted(port) >= EVERYTHING, 90, "part two again", logs)
            else:
                wait_for(lambda: _accepted(port) >= EVERYTHING, 90, "part two again", logs)
            time.sleep(1.0)
            _check(port)
        everything = "\n".join(p.read_text(errors="replace") for p in tmp_path.glob("*.log"))
        if worker_restarts:  # the restarted worker sought back, behind Kafka's committed offsets
            moves = re.findall(r"\[\d+\] at (\d+) \(Kafka: (\d+)\)", everything)
            assert any(int(store) < int(kafka) for store, kafka in moves), moves
        else:  # the running worker noticed the fence going back
            assert "the store lost commits" in everything or "went back from offset" in everything
    finally:
        redis.stop()
