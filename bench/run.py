"""The layered benchmark: Pulse and its peers side by side, in one run on the same Tansu topics.

    .venv/bin/python bench/run.py                  # full: 100k events, 60 s freshness, 5-min outage
    .venv/bin/python bench/run.py --quick          # CI-sized smoke run (a few minutes)
    .venv/bin/python bench/run.py --layers raw,pulse-web,scrape --json /tmp/bench.json

One embedded Tansu broker and one redis-server; N web events are produced once to
`<prefix>clickstream` (and N mixed five-family events to the five family topics of a second
prefix), and every throughput layer reads those same events from offset 0 in its own consumer
group, so the ratios between layers hold on a noisy machine:

  raw          aiokafka getmany + orjson (web and mixed)   bench/layers/raw.py
  faust-noop   Faust agent, no-op (kafka://)                bench/layers/faust_noop.py
  faust-naive  Faust agent, one HINCRBY per event           bench/layers/faust_naive.py
  quix         Quix Streams tumbling 1-minute count          bench/layers/quix.py
  pulse-web    pulse worker, web only                        bench/layers/pulse.py
  pulse-mixed  pulse worker, five families                   bench/layers/pulse.py
  two-workers  two pulse workers in one group, web           bench/twoworkers.py
  freshness    produced → visible in /metrics, open loop     bench/freshness.py
  catchup      time to catch up after an outage              bench/catchup.py
  scrape       /metrics at ~1k and ~10k series               bench/scrape.py
(memory per million events and per series comes from pulse-* and scrape: bench/memory.py)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from bench import catchup, freshness, memory, scrape, twoworkers  # noqa: E402
from bench.common import RETENTION_MS, SEED, Context, Dataset, Result, encode, produce  # noqa: E402
from bench.host import DEBIAN_REDIS, cleanup_guard, machine  # noqa: E402
from bench.layers import faust_naive, faust_noop, pulse, quix, raw  # noqa: E402
from bench.report import render  # noqa: E402
from bench.throughput import make_events  # noqa: E402
from metrics_core.settings import Settings  # noqa: E402
from streams.commands import topic_plan  # noqa: E402
from streams.embedded import EmbeddedKafka, EmbeddedRedis  # noqa: E402
from streams.kafka_admin import ensure_topics  # noqa: E402
from streams.simulation.mix import Traffic, routing  # noqa: E402

THROUGHPUT = ("raw", "faust-noop", "faust-naive", "quix", "pulse-web", "two-workers", "pulse-mixed")
LAYERS = (*THROUGHPUT, "freshness", "catchup", "scrape")
WEB_LAYERS = {"raw", "faust-noop", "faust-naive", "quix", "pulse-web", "two-workers"}
QUICK = {"events": 20_000, "freshness_s": 10.0, "outage_s": 15.0, "scrapes": 5}
FULL = {"events": 100_000, "freshness_s": 60.0, "outage_s": 300.0, "scrapes": 10}
FALLBACK_MAX_RATE = 5_000.0  # when pulse-web is not run and --max-rate is not given


# --- data sets -----------------------------------------------------------------------------


def mixed_events(count: int) -> list[dict[str, Any]]:
    """`count` events of all five families in the simulator's mix, stamped over the last count/1000 s."""
    span_s = max(1, count // 1000)
    now_ms = int(time.time() * 1000)
    start_ms = now_ms - span_s * 1000
    traffic = Traffic(seed=SEED, start_ms=start_ms)
    out: list[dict[str, Any]] = []
    per_tick = -(-count // span_s)
    for tick in range(1, span_s + 1):
        out.extend(traffic.events(start_ms + tick * 1000, per_tick))
    return out[:count]


def make_dataset(ctx: Context, name: str, count: int) -> Dataset:
    prefix = f"bench{uuid.uuid4().hex[:6]}{name[0]}-"
    settings = Settings(kafka_url=ctx.kafka.url, topic_prefix=prefix, partitions=ctx.partitions)
    asyncio.run(ensure_topics(ctx.bootstrap, topic_plan(settings), retention_ms=RETENTION_MS))
    started = time.perf_counter()
    events = make_events(count) if name == "web" else mixed_events(count)
    messages = encode(events, prefix, routing)
    generated = time.perf_counter() - started
    took = asyncio.run(produce(ctx.bootstrap, messages))
    families = Counter(topic.removeprefix(prefix) for topic, _, _ in messages)
    print(
        f"bench: {name}: {count:,} events generated in {generated:.1f} s, produced in {took:.1f} s "
        f"({count / took:,.0f}/s) to {dict(families)}",
        flush=True,
    )
    return Dataset(name, prefix, tuple(sorted(families)), count, ctx.partitions, dict(families))


# --- the run -------------------------------------------------------------------------------


class Run:
    """Runs the chosen parts in order; a failing part is recorded and the rest go on."""

    def __init__(self, ctx: Context, args: argparse.Namespace, results: dict[str, Any]) -> None:
        self.ctx, self.args, self.results = ctx, args, results
        self.layers: list[Result] = []
        self.errors: dict[str, str] = results.setdefault("errors", {})

    def attempt(self, name: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            print(f"bench: {name} FAILED: {self.errors[name]}", file=sys.stderr, flush=True)
            traceback.print_exc()
            return None

    def layer(self, name: str, module: Any, data: Dataset) -> Result | None:
        print(f"bench: layer {name} on {data.name} ({data.count:,} events)", flush=True)
        result: Result | None = self.attempt(f"{name}/{data.name}", lambda: module.run(self.ctx, data))
        if result is not None:
            print(
                f"bench:   {result.rate:,.0f} events/s, {result.cpu_us_per_event:.1f} CPU µs/event",
                flush=True,
            )
            self.layers.append(result)
        return result

    def throughput(self, chosen: set[str], web: Dataset | None, mixed: Dataset | None) -> None:
        modules: dict[str, Any] = {
            "raw": raw,
            "faust-noop": faust_noop,
            "faust-naive": faust_naive,
            "quix": quix,
            "pulse-web": pulse,
            "two-workers": twoworkers,
        }
        if web is not None:
            for name in ("raw", "faust-noop", "faust-naive", "quix", "pulse-web", "two-workers"):
                if name not in chosen:
                    continue
                if name == "quix" and not quix.available():
                    self.errors["quix/web"] = "quixstreams is not installed: pip install -e '.[bench]'"
                    continue
                self.layer(name, modules[name], web)
        if mixed is not None:
            if "raw" in chosen:
                self.layer("raw", raw, mixed)
            self.layer("pulse-mixed", pulse, mixed)

    def max_rate(self) -> tuple[float, str]:
        if self.args.max_rate:
            return self.args.max_rate, "--max-rate"
        for result in self.layers:
            if result.layer.startswith("pulse worker, web"):
                return result.rate, "pulse worker, web (this run)"
        return FALLBACK_MAX_RATE, "fallback guess (pulse-web not run)"


def bench(args: argparse.Namespace) -> dict[str, Any]:
    mode = QUICK if args.quick else FULL
    events = args.events or mode["events"]
    chosen = set(args.layers.split(",")) if args.layers else set(LAYERS)
    unknown = chosen - set(LAYERS)
    if unknown:
        raise SystemExit(f"unknown layers {sorted(unknown)}; choose from {', '.join(LAYERS)}")
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "mode": "quick" if args.quick else "full",
        "events": events,
        "partitions": args.partitions,
        "layers_chosen": sorted(chosen),
    }
    logdir = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    print(f"bench: logs in {logdir}", flush=True)
    with ExitStack() as stack, cleanup_guard(stack):
        kafka = stack.enter_context(EmbeddedKafka())
        binary = DEBIAN_REDIS if Path(DEBIAN_REDIS).exists() else None
        redis_server = stack.enter_context(EmbeddedRedis(binary=binary))
        with redis.Redis.from_url(redis_server.url) as client:
            info = client.info("server")
        results["redis"] = {
            "binary": redis_server.binary,
            "version": info.get("valkey_version") or info["redis_version"],
        }
        results["broker"] = {"binary": kafka.binary}
        ctx = Context(kafka, redis_server, stack, logdir, args.quick, args.partitions, args.stall_timeout)
        run = Run(ctx, args, results)
        random.seed(SEED)
        web = make_dataset(ctx, "web", events) if chosen & WEB_LAYERS else None
        mixed = make_dataset(ctx, "mixed", events) if "pulse-mixed" in chosen else None
        results["datasets"] = {d.name: d.by_family for d in (web, mixed) if d is not None}
        run.throughput(chosen, web, mixed)
        results["layers"] = [r.as_dict() for r in run.layers]
        rate, source = run.max_rate()
        results["max_rate"] = {"events_per_s": rate, "source": source}
        if "freshness" in chosen:
            results["freshness"] = run.attempt(
                "freshness", lambda: freshness.run(ctx, rate, args.freshness_s or mode["freshness_s"])
            )
        if "catchup" in chosen:
            outage = args.outage_s or mode["outage_s"]
            results["catchup"] = run.attempt("catchup", lambda: catchup.run(ctx, 0.5 * rate, outage))
        if "scrape" in chosen:
            results["scrape"] = run.attempt("scrape", lambda: scrape.run(ctx, repeat=mode["scrapes"]))
        results["memory"] = memory.summarize(results["layers"], results.get("scrape"), results.get("catchup"))
    if not args.keep_logs and not run.errors:
        shutil.rmtree(logdir, ignore_errors=True)
    else:
        results["logdir"] = str(logdir)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=None, help="events per data set (100k; quick 20k)")
    parser.add_argument(
        "--quick", action="store_true", help="CI-sized smoke run: fewer events, shorter phases"
    )
    parser.add_argument("--layers", default=None, help=f"comma-separated, from: {','.join(LAYERS)} (all)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic")
    parser.add_argument("--max-rate", type=float, default=None, help="events/s for freshness and catch-up")
    parser.add_argument("--freshness-s", type=float, default=None, help="seconds per freshness load")
    parser.add_argument("--outage-s", type=float, default=None, help="catch-up outage (300; quick 15)")
    parser.add_argument("--stall-timeout", type=float, default=120.0, help="give up after no progress, s")
    parser.add_argument("--keep-logs", action="store_true", help="keep the children's logs")
    args = parser.parse_args()
    try:
        results = bench(args)
    except KeyboardInterrupt:
        print("\nbench: interrupted; everything stopped", file=sys.stderr)
        return 130
    print()
    print(render(results))
    path = args.json or Path(tempfile.gettempdir()) / "pulse-bench-results.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nbench: results in {path}")
    return 1 if results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
