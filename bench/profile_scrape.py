"""Where a scrape's time goes: Redis reads, Redis server time, exposition, text.

    .venv/bin/python bench/profile_scrape.py                  # ~10k series
    .venv/bin/python bench/profile_scrape.py --series 1000 --cprofile

Starts Debian's redis-server on a free port, fills it the way bench/scrape.py does (web
events through the worker's batch path) and times the collector in this process: each
Reader method (wall), Redis's own time (INFO commandstats), the collector alone, the text
encoding alone and `generate_latest` (both), as medians over `--repeat` scrapes.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from bench.host import DEBIAN_REDIS  # noqa: E402
from bench.scrape import Populator  # noqa: E402
from metrics_core.exposition.collector import PulseCollector  # noqa: E402
from metrics_core.settings import Settings  # noqa: E402
from metrics_core.store.redis_reader import RedisReader  # noqa: E402
from metrics_core.store.redis_store import namespace  # noqa: E402
from streams.embedded import EmbeddedRedis  # noqa: E402

READS = ("shards", "pipeline", "buckets", "uniques", "samples", "series_names", "series_at")


class TimedReader:
    """The exporter's reader, adding up the wall time of each read."""

    def __init__(self, reader: RedisReader) -> None:
        self.reader = reader
        self.spent: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.reader, name)
        if name not in READS:
            return found

        def timed(*args: Any) -> Any:
            started = time.perf_counter()
            try:
                return found(*args)
            finally:
                self.spent[name] += time.perf_counter() - started

        return timed


def median_ms(run: Callable[[], object], repeat: int) -> float:
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        took.append(time.perf_counter() - started)
    return statistics.median(took) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--cprofile", action="store_true", help="then profile 3 scrapes")
    args = parser.parse_args()
    server = EmbeddedRedis(str(DEBIAN_REDIS)).start()
    try:
        settings = Settings(redis_url=server.url, topic_prefix="profile-", partitions=4)
        series = asyncio.run(Populator(settings).fill(args.series))
        reader = TimedReader(RedisReader(server.url, namespace(settings.topic_prefix)))
        collector = PulseCollector(
            reader,  # type: ignore[arg-type]
            settings.window_list,
            settings.topic,
            label_cap=settings.label_cap,
        )
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        generate_latest(registry)  # connects, loads the functions if needed
        gc.freeze()  # as `pulse exporter` does after startup
        client = redis.Redis.from_url(server.url)
        client.config_resetstat()
        reader.spent.clear()
        collect_ms = median_ms(lambda: list(collector.collect()), args.repeat)
        stats = client.info("commandstats")
        redis_ms = sum(s["usec"] for name, s in stats.items() if "config" not in name) / args.repeat / 1000
        reads = {name: round(s / args.repeat * 1000, 1) for name, s in reader.spent.items()}
        metrics = list(collector.collect())
        fixed = CollectorRegistry(auto_describe=False)
        fixed.register(type("Fixed", (), {"collect": lambda self: metrics})())
        text_ms = median_ms(lambda: generate_latest(fixed), args.repeat)
        total_ms = median_ms(lambda: generate_latest(registry), args.repeat)
        print(f"{series:,} series; medians of {args.repeat} scrapes, ms:")
        print(f"  reads (wall, per scrape): {reads}; Redis server time {redis_ms:.1f}")
        print(f"  collector {collect_ms:.1f} + text {text_ms:.1f}; generate_latest {total_ms:.1f}")
        if args.cprofile:
            profile = cProfile.Profile()
            profile.runcall(lambda: [generate_latest(registry) for _ in range(3)])
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
