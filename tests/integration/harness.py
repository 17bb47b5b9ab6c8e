"""Helpers for end-to-end tests: run `pulse worker`/`pulse exporter` as real processes, scrape."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from metrics_core.settings import Settings
from streams.commands import create_topics, settings_env
from streams.procs import free_port, stop_process

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@contextmanager
def pulse_process(command: str, settings: Settings, log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`pulse <command>` as a child process; its output goes to a log file shown on failure."""
    log_path = log_dir / f"{command}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", command],
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop_process(proc, grace_s=5.0)


def log_tail(log_dir: Path, lines: int = 40) -> str:
    return "\n".join(
        f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:])
        for p in sorted(log_dir.glob("*.log"))
    )


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def samples(text: str) -> Samples:
    """`{(name, frozenset(labels.items())): value}` for every sample of a scrape."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def total(found: Samples, name: str, **labels: str) -> float:
    """Sum of every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    on_timeout: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass  # the exporter is not up yet
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}\n{on_timeout()}")


def promtool_check(promtool: str, text: str) -> None:
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


Item = tuple[bytes | None, Any]  # (key, payload: a JSON-able object, or raw bytes sent as they are)


def stack_settings(kafka_url: str, redis_url: str, topic_prefix: str, **overrides: Any) -> Settings:
    """Test settings for one isolated stack (own topics, group, exporter port); topics created."""
    fields: dict[str, Any] = {
        "kafka_url": kafka_url,
        "redis_url": redis_url,
        "topic_prefix": topic_prefix,
        "app_id": f"pulse-{topic_prefix}",
        "partitions": 2,
        "windows": "5m,1h",
        "exporter_host": "127.0.0.1",
        "exporter_port": free_port(),
        "rebalance_timeout_s": 3.0,
        "batch_within_s": 0.05,
    }
    settings = Settings(**{**fields, **overrides})
    asyncio.run(create_topics(settings))
    return settings


async def produce(bootstrap: str, topic: str, items: Iterable[Item]) -> None:
    """Send each (key, payload) in order with a plain aiokafka producer, as any client would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, payload in items:
            data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
            await producer.send_and_wait(topic, data, key=key)
    finally:
        await producer.stop()


def rebase(items: Iterable[Item], built_at_s: int) -> list[Item]:
    """Datasets are written relative to the time they were built (module import); shift their
    numeric timestamps to now, so a test that runs minutes later still lands in its windows."""
    delta = int(time.time()) - built_at_s
    return [
        (key, {**p, "timestamp": p["timestamp"] + delta})
        if isinstance(p, dict) and isinstance(p.get("timestamp"), int | float)
        else (key, p)
        for key, p in items
    ]


def accepted(port: int) -> float:
    """Events counted so far, over every topic and type."""
    return total(samples(scrape(port)), "pulse_events_total")


def run_with_sigkill(
    settings: Settings,
    log_dir: Path,
    topic: str,
    part_one: Iterable[Item],
    part_two: Iterable[Item],
    first: float,
    settled: Callable[[Samples], bool],
    built_at_s: int | None = None,
) -> str:
    """Part one into a worker that is SIGKILLed once `first` events count; part two into a
    fresh worker; returns the scrape once `settled` holds (plus a second for stragglers).
    With `built_at_s`, the datasets' timestamps are first rebased to now (see `rebase`)."""
    assert settings.kafka_url
    if built_at_s is not None:
        part_one, part_two = rebase(part_one, built_at_s), rebase(part_two, built_at_s)
    bootstrap = settings.kafka_url.removeprefix("kafka://")
    port = settings.exporter_port
    logs = partial(log_tail, log_dir)
    with pulse_process("exporter", settings, log_dir):
        with pulse_process("worker", settings, log_dir) as worker:
            asyncio.run(produce(bootstrap, topic, part_one))
            wait_for(lambda: accepted(port) >= first, 60, f"{first:g} events before the kill", logs)
            os.kill(worker.pid, signal.SIGKILL)  # offsets may be uncommitted: the fence must hold
            worker.wait(10)
        asyncio.run(produce(bootstrap, topic, part_two))
        with pulse_process("worker", settings, log_dir):
            wait_for(lambda: settled(samples(scrape(port))), 90, "every event", logs)
            time.sleep(1.0)  # anything still in flight would show up as a mismatch
            return scrape(port)
