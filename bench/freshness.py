"""End-to-end freshness: an event produced → visible in `/metrics`, at 50 % and 80 % of the max rate.

For each load: fresh topics, a worker and an exporter; an open-loop producer sends web
traffic at the rate, and every `MARKER_EVERY_S` a marker: a page view of the property
`bench-marker`, all with one visitor id (so one partition, applied in send order), its send
time taken just before the producer's `send`. A thread scrapes `/metrics` every
`SCRAPE_EVERY_S`; when `pulse_page_views{property="bench-marker",window="5m"}` reads k, the
first k markers are visible, and each newly visible one gets the end time of that scrape.
Freshness = that time − the send time: an upper bound, within one scrape interval plus one
scrape duration of the truth. A full scrape costs the exporter and Redis ~0.1-0.2 s of CPU,
so scraping every 50 ms would itself starve the worker on two cores; a second thread
therefore reads the same counter every `PROBE_EVERY_S` from the exporter's own keys and
buckets (the exporter is stateless: what Redis holds is what the next scrape shows), which
times visibility to ~50 ms. Both are reported; the target is checked on /metrics.

One property for every marker keeps the exposition small (a property per marker would add
~500 series each and slow every scrape). Markers start once the worker has joined and
drained what piled up meanwhile (its lag, from its Redis counters, is under one second of
traffic, and `WARM_EXTRA_S` more have passed); a worker that never gets there is reported
as not keeping up. Markers never seen count as missing. The producer's and the worker's CPU
per event over the measured phase are reported too: on two cores they compete.
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from bench.common import RETENTION_MS, Context, process_cpu
from bench.openloop import OpenLoop
from bench.workers import Progress, pulse_settings, start
from metrics_core.families.changes import field_name
from metrics_core.routing import partition_for
from metrics_core.settings import Settings
from metrics_core.store.base import ShardId
from metrics_core.store.redis_store import namespace, shard_prefix
from metrics_core.windows import bucket_start
from streams.commands import topic_plan
from streams.kafka_admin import ensure_topics
from streams.procs import stop_process

MARKER_EVERY_S = 0.2
MAX_MARKERS = 1000
MARKER_PROPERTY = "bench-marker"
SCRAPE_EVERY_S = 1.0  # a full scrape costs ~0.1-0.2 s of exporter + Redis CPU: faster loads the cores
PROBE_EVERY_S = 0.05
WARM_EXTRA_S = 3.0
LIVE_LAG_S = 1.0
WARM_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 30.0
TARGET_P99_S = 2.0
_MARKERS_SEEN = re.compile(
    r'^pulse_page_views\{(?=[^}]*property="' + MARKER_PROPERTY + r'")(?=[^}]*window="5m")[^}]*\} (\S+)$', re.M
)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


@dataclass
class Watcher:
    """Calls `probe()` (markers visible) every `every_s` in a thread; `seen[i]` = when marker i showed."""

    probe: Callable[[], int]
    every_s: float
    seen: list[float] = field(default_factory=list)
    took_s: list[float] = field(default_factory=list)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="bench-freshness-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.time()
            try:
                visible = self.probe()
            except (OSError, redis.RedisError):
                self.errors += 1
                self._stop.wait(0.5)
                continue
            t1 = time.time()  # the end: a probe shows what was there at some moment before it
            self.took_s.append(t1 - t0)
            self.seen.extend([t1] * (visible - len(self.seen)))
            self._stop.wait(max(0.0, self.every_s - (t1 - t0)))

    def summary(self, sent: list[float]) -> dict[str, Any]:
        latencies = [seen - sent_at for seen, sent_at in zip(self.seen, sent, strict=False)]
        took = self.took_s or [float("nan")]
        return {
            "every_s": self.every_s,
            "missing": len(sent) - len(latencies),
            "p50_s": percentile(latencies, 50) if latencies else None,
            "p99_s": percentile(latencies, 99) if latencies else None,
            "max_s": max(latencies) if latencies else None,
            "probe_p50_s": statistics.median(took),
            "probe_max_s": max(took),
            "errors": self.errors,
            "latencies_s": [round(x, 3) for x in latencies],
        }


def scrape_probe(port: int) -> Callable[[], int]:
    """Markers visible in GET /metrics: `pulse_page_views{property="bench-marker",window="5m"}`."""
    url = f"http://127.0.0.1:{port}/metrics"

    def probe() -> int:
        with urllib.request.urlopen(url, timeout=30) as response:
            found = _MARKERS_SEEN.search(response.read().decode())
        return int(float(found[1])) if found else 0

    return probe


def redis_probe(settings: Settings, visitor: str, since_s: float) -> Callable[[], int]:
    """The same counter read straight from the exporter's keys: one HGET per 5m bucket since `since_s`.

    Markers share one visitor, so one partition's shard holds them; reading only that field
    of only the buckets since the run began keeps a probe to ~15 commands (the exporter's
    HGETALL of all 61 buckets × 4 shards, parsed in Python, would load the cores 20 times a
    second).
    """
    assert settings.redis_url
    client = redis.Redis.from_url(settings.redis_url)
    window = next(w for w in settings.window_list if w.label == "5m")
    shard = ShardId("clickstream", partition_for(visitor, settings.partitions))
    prefix = shard_prefix(namespace(settings.topic_prefix), shard)
    name = field_name("pv", MARKER_PROPERTY)
    first = bucket_start(int(since_s * 1000), window.bucket_ms)

    def probe() -> int:
        pipe = client.pipeline(transaction=False)
        last = bucket_start(int(time.time() * 1000), window.bucket_ms)
        for bucket in range(first, last + 1, window.bucket_ms):
            pipe.hget(f"{prefix}:c:{window.bucket_ms}:{bucket}", name)
        return sum(int(v) for v in pipe.execute() if v is not None)

    return probe


def marker(visitor: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "type": "clickstream.page_view",
        "timestamp": time.time(),
        "property": MARKER_PROPERTY,
        "page": "/",
        "anonymous_id": visitor,
    }


async def _warm_up(loop: OpenLoop, progress: Progress, worker: Any) -> tuple[float, bool]:
    """Produce until the worker has joined and its lag is under one second of traffic.

    Returns (seconds taken, live?): a worker that cannot keep up at this rate never gets
    there; after `WARM_TIMEOUT_S` the markers start anyway and show the growing delay.
    """
    started = time.monotonic()
    deadline = started + WARM_TIMEOUT_S
    next_poll = [0.0]
    live = [False]

    async def check() -> bool:
        if worker.poll() is not None:
            raise RuntimeError(f"pulse worker exited with code {worker.returncode} during warm-up")
        if time.monotonic() > deadline:
            return True
        if time.monotonic() < next_poll[0]:
            return False
        next_poll[0] = time.monotonic() + 0.1
        acked = loop.acked
        processed = await asyncio.to_thread(progress.processed)
        live[0] = processed > 0 and acked - processed < loop.rate * LIVE_LAG_S
        return live[0]

    await loop.run(WARM_TIMEOUT_S + 1, check)
    await loop.run(WARM_EXTRA_S)
    return time.monotonic() - started, live[0]


async def _measure(ctx: Context, rate: float, duration_s: float, label: str) -> dict[str, Any]:
    settings = pulse_settings(ctx, f"bench{uuid.uuid4().hex[:6]}-", label)
    client = ctx.client(settings.redis_url)
    await ensure_topics(ctx.bootstrap, topic_plan(settings), retention_ms=RETENTION_MS)
    exporter = start(ctx, settings, "exporter", f"{label}-exporter")
    worker = start(ctx, settings, "worker", f"{label}-worker")
    scrapes = Watcher(scrape_probe(settings.exporter_port), SCRAPE_EVERY_S)
    sent: list[float] = []
    visitor = f"anon-marker-{uuid.uuid4().hex[:8]}"
    probes = Watcher(redis_probe(settings, visitor, time.time()), PROBE_EVERY_S)
    scrapes.start()
    probes.start()
    every_s = max(MARKER_EVERY_S, duration_s / MAX_MARKERS)
    try:
        async with OpenLoop(ctx.bootstrap, settings.topic("clickstream"), rate, settings.partitions) as loop:
            warm_s, live = await _warm_up(loop, Progress.of(client, settings, ("clickstream",)), worker)
            produced_from, started = loop.sent, time.monotonic()
            cpu0 = time.process_time(), process_cpu(worker.pid)
            next_at = [started]

            async def markers() -> bool:
                if time.monotonic() >= next_at[0]:
                    event = marker(visitor)
                    sent.append(time.time())
                    await loop.send(event)
                    next_at[0] += every_s
                return False

            await loop.run(duration_s, markers)
            produced = loop.sent - produced_from
            achieved = produced / (time.monotonic() - started)
            producer_cpu = (time.process_time() - cpu0[0]) / produced * 1e6
            worker_cpu = (process_cpu(worker.pid) - cpu0[1]) / produced * 1e6

            async def all_seen() -> bool:
                return len(scrapes.seen) >= len(sent) and len(probes.seen) >= len(sent)

            await loop.run(DRAIN_TIMEOUT_S, all_seen)  # the same load while the last markers land
    finally:
        scrapes.stop()
        probes.stop()
        stop_process(worker, 5.0)
        stop_process(exporter, 5.0)
    metrics = scrapes.summary(sent)
    return {
        "target_rate": rate,
        "achieved_rate": achieved,
        "duration_s": duration_s,
        "markers": len(sent),
        "marker_every_s": every_s,
        "warm_up_s": warm_s,
        "live_before_markers": live,  # False: the worker never kept up at this rate
        "producer_cpu_us_per_event": producer_cpu,
        "worker_cpu_us_per_event": worker_cpu,
        # the headline: the end of the first GET /metrics that shows the marker
        **{k: v for k, v in metrics.items() if k != "latencies_s"},
        "metrics": metrics,
        "redis": probes.summary(sent),  # when any scrape starting then would show it
    }


def run(
    ctx: Context, max_rate: float, duration_s: float, shares: tuple[float, ...] = (0.5, 0.8)
) -> dict[str, Any]:
    """Freshness at each share of `max_rate` (events/s of the web worker measured in this run)."""
    out: dict[str, Any] = {"max_rate": max_rate, "target_p99_s": TARGET_P99_S, "loads": {}}
    for share in shares:
        label = f"fresh{int(share * 100)}"
        print(f"bench: freshness at {share:.0%} of {max_rate:,.0f} events/s for {duration_s:g} s", flush=True)
        out["loads"][f"{share:.0%}"] = asyncio.run(_measure(ctx, share * max_rate, duration_s, label))
    return out
