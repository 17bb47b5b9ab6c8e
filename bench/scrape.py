"""`/metrics` scrape time at ~1k and ~10k series, and Redis bytes per series.

Redis is populated through the worker's own path without Kafka: web events of one property
after another go through `FamilyBridge` → `Applier` → `RedisStore.commit` (the same code
`pulse worker` runs per batch), until the exposition holds the target number of series
(every property adds its page views, sessions, bounce, per-page exit, per-placement CTR,
per-goal conversion, per-feature adoption gauges, each for every window). Then a real
`pulse exporter` child serves it and we time GET /metrics over HTTP (the scrape Prometheus
does), besides the collector alone in this process.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import generate_latest

from bench.common import SEED, Context, used_memory
from bench.workers import pulse_settings, start
from metrics_core.registry import family_logic
from metrics_core.routing import partition_for
from metrics_core.settings import Settings
from metrics_core.store.redis_store import RedisStore, namespace
from streams.bridge import FamilyBridge, Source
from streams.exporter import build_registry
from streams.procs import stop_process
from streams.simulation.mix import routing
from streams.simulation.web import WebTraffic

EVENTS_PER_PROPERTY = 400  # enough visits to touch every page, placement, goal and feature
TARGET_MS = 250.0
FAMILY = "clickstream"


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes


class _NoSender:
    async def send_batch(self, messages: Sequence[Any]) -> None:
        if messages:
            raise RuntimeError("the scrape population forwards nothing (events go to their owner)")


class Populator:
    """Applies web events, one property at a time, through the worker's batch path."""

    def __init__(self, settings: Settings) -> None:
        assert settings.redis_url
        self.settings = settings
        self.topic = settings.topic(FAMILY)
        self.store = RedisStore(settings.redis_url, namespace(settings.topic_prefix))
        self.bridge = FamilyBridge(
            settings,
            family_logic(FAMILY),
            self.store,
            _NoSender(),
            {self.topic: Source(self.topic, "bench/scrape", rekey=True)},
            settings.partitions,
        )
        self.offsets = [0] * settings.partitions
        self.properties = 0
        self.events = 0

    async def fill(self, target: int) -> int:
        """Add properties until the exposition has `target` series; returns the series count."""
        await self.store.setup()
        try:
            series, _ = series_count(self.settings)
            while series < target:
                per_property = series / self.properties if self.properties else 0.0
                step = 1 if not per_property else max(1, int((target - series) / per_property + 0.999))
                await self.add(step)
                series, _ = series_count(self.settings)
            return series
        finally:
            await self.store.close()

    async def add(self, count: int) -> None:
        import orjson

        for _ in range(count):
            name = f"p{self.properties:05d}"
            gen = WebTraffic(random.Random(SEED + self.properties), (name,))
            self.properties += 1
            messages = []
            now_ms, ticks = int(time.time() * 1000), 10  # ten minutes: visits go on to other pages
            events = [
                e
                for k in range(ticks)
                for e in gen.events(now_ms - (ticks - 1 - k) * 60_000, EVENTS_PER_PROPERTY // ticks)
            ]
            for event in events:
                key = routing(event)
                partition = partition_for(key.decode(), self.settings.partitions)
                messages.append(
                    _Message(self.topic, partition, self.offsets[partition], key, orjson.dumps(event))
                )
                self.offsets[partition] += 1
            await self.bridge.handle(messages)
            self.events += len(messages)


def series_count(settings: Settings) -> tuple[int, float]:
    """(samples in one exposition, seconds the collector took) — in this process."""
    registry = build_registry(settings)
    started = time.perf_counter()
    text = generate_latest(registry).decode()
    took = time.perf_counter() - started
    return sum(1 for line in text.splitlines() if line and not line.startswith("#")), took


def time_http(port: int, repeat: int) -> list[float]:
    url = f"http://127.0.0.1:{port}/metrics"
    took = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as response:
            response.read()
        took.append(time.perf_counter() - started)
    return took[1:]  # the first opens the exporter's Redis connection


def measure(ctx: Context, target: int, repeat: int) -> dict[str, Any]:
    settings = pulse_settings(ctx, f"scrape{target}-", f"scrape{target}")
    assert settings.redis_url
    client = ctx.client(settings.redis_url)
    populator = Populator(settings)
    memory0 = used_memory(client)
    series = asyncio.run(populator.fill(target))
    memory = used_memory(client) - memory0
    collector_s = [series_count(settings)[1] for _ in range(max(3, repeat // 2))]
    exporter = start(ctx, settings, "exporter", f"scrape{target}-exporter")
    try:
        http_s = time_http(settings.exporter_port, repeat)
    finally:
        stop_process(exporter, 5.0)
    return {
        "target_series": target,
        "series": series,
        "properties": populator.properties,
        "events": populator.events,
        "http_p50_ms": statistics.median(http_s) * 1000,
        "http_max_ms": max(http_s) * 1000,
        "collector_p50_ms": statistics.median(collector_s) * 1000,
        "scrapes": len(http_s),
        "used_memory_delta_bytes": memory,
        "bytes_per_series": memory / series,
        "bytes_per_event": memory / max(populator.events, 1),
        "target_ms": TARGET_MS,
    }


def run(ctx: Context, targets: Sequence[int] = (1_000, 10_000), repeat: int = 10) -> dict[str, Any]:
    out = {}
    for target in targets:
        print(f"bench: scrape at ~{target:,} series", flush=True)
        out[f"{target}"] = measure(ctx, target, repeat)
    return out
