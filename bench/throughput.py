"""Throughput of `pulse worker` against a bare aiokafka consumer, on one embedded broker + Redis.

    .venv/bin/python bench/throughput.py --events 100000 --partitions 4 --json /tmp/bench.json
    .venv/bin/python bench/throughput.py --profile /tmp/worker.txt   # + py-spy hot spots

One run: start Tansu and Redis (Debian's redis-server when present, else Valkey), create the
topics under a unique prefix, produce N seeded clickstream events (keyed as Pulse routes them,
event times spread over the last N/1000 s up to now, so none is late), then measure two layers
reading those same N events from offset 0:

- raw: an aiokafka consumer (no group, all partitions assigned) doing getmany + orjson.loads;
- pulse worker: `python -m streams.cli worker` (plus an exporter), until Redis holds N accepted
  events. Its rate is measured from the first accepted event to the last, so the group join
  (several seconds on Tansu, which admits members only after the rebalance timeout) is
  excluded; the total including the join is reported too.

CPU is process CPU time (this process for raw, /proc/<pid>/stat of the worker for Pulse).
Redis round trips come from INFO commandstats (FCALL calls per event).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import redis  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402

from bench.host import DEBIAN_REDIS, cleanup_guard, machine  # noqa: E402
from bench.pyspy import hot_spots  # noqa: E402
from bench.throughput_layers import FAMILY, Layer, consume_raw, run_worker_layer  # noqa: E402
from metrics_core.settings import Settings  # noqa: E402
from streams.commands import topic_plan  # noqa: E402
from streams.embedded import EmbeddedKafka, EmbeddedRedis  # noqa: E402
from streams.kafka_admin import ensure_topics, kafka_bootstrap  # noqa: E402
from streams.procs import free_port  # noqa: E402
from streams.simulation.mix import routing  # noqa: E402
from streams.simulation.web import WebTraffic  # noqa: E402

SEED = 20240601
REBALANCE_S = 3.0  # Tansu admits a group member only after the rebalance timeout
SEND_CHUNK = 5000
# WebTraffic scans its list of open visits on every step (quadratic in the visits open at
# once), so the traffic comes from many small generators, each at a modest rate.
GENERATORS = 100
GENERATOR_RATE = 10  # events/s of simulated time per generator


# --- traffic -------------------------------------------------------------------------------


def make_events(count: int) -> list[dict[str, Any]]:
    """`count` clickstream events from seeded WebTraffic generators, stamped up to now."""
    gens = [WebTraffic(random.Random(SEED + i)) for i in range(GENERATORS)]
    per_tick = GENERATOR_RATE  # one tick = 1 s of simulated time
    ticks = -(-count // (per_tick * GENERATORS))
    now_ms = int(time.time() * 1000)
    out: list[dict[str, Any]] = []
    for tick in range(ticks):
        clock = now_ms - (ticks - 1 - tick) * 1000
        for gen in gens:
            out.extend(gen.events(clock, per_tick))
    return out[:count]


async def produce(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> Layer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="pulse-bench",
        acks="all",
        enable_idempotence=False,  # Tansu has no InitProducerId
        linger_ms=5,
        max_batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(events), SEND_CHUNK):
            futures = [
                await producer.send(topic, value=orjson.dumps(e), key=routing(e))
                for e in events[start : start + SEND_CHUNK]
            ]
            await asyncio.gather(*futures)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await producer.stop()
    return Layer("produce (aiokafka, acks=all)", len(events), wall, cpu)


# --- report --------------------------------------------------------------------------------


def table(layers: list[Layer], raw: Layer) -> str:
    head = (
        f"{'layer':<38} {'events':>8} {'seconds':>8} {'events/s':>10} {'CPU µs/ev':>10} "
        f"{'rate ÷ raw':>10} {'CPU × raw':>10}"
    )
    lines = [head, "-" * len(head)]
    for layer in layers:
        lines.append(
            f"{layer.layer:<38} {layer.events:>8} {layer.seconds:>8.2f} {layer.rate:>10,.0f} "
            f"{layer.cpu_us_per_event:>10.1f} {layer.rate / raw.rate:>10.3f} "
            f"{layer.cpu_us_per_event / raw.cpu_us_per_event:>10.1f}"
        )
    return "\n".join(lines)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "events": args.events, "partitions": args.partitions}
    with ExitStack() as stack, cleanup_guard(stack):
        binary = DEBIAN_REDIS if Path(DEBIAN_REDIS).exists() else None
        kafka = stack.enter_context(EmbeddedKafka())
        redis_server = stack.enter_context(EmbeddedRedis(binary=binary))
        with redis.Redis.from_url(redis_server.url) as client:
            version = client.info("server")
        results["redis"] = {
            "binary": redis_server.binary,
            "version": version.get("valkey_version") or version["redis_version"],
        }
        results["broker"] = {"binary": kafka.binary}
        prefix = f"bench{uuid.uuid4().hex[:8]}-"
        settings = Settings(
            kafka_url=kafka.url,
            redis_url=redis_server.url,
            topic_prefix=prefix,
            partitions=args.partitions,
            rebalance_timeout_s=REBALANCE_S,
            exporter_host="127.0.0.1",
            exporter_port=free_port(),
            app_id=f"pulse-{prefix.rstrip('-')}",
        )
        bootstrap = kafka_bootstrap(kafka.url)
        topic = settings.topic(FAMILY)
        print(
            f"bench: Tansu {kafka.bootstrap}, {Path(redis_server.binary).name} "
            f"{results['redis']['version']} on {redis_server.port}, topic {topic} "
            f"({args.partitions} partitions)",
            flush=True,
        )
        asyncio.run(ensure_topics(bootstrap, topic_plan(settings)))

        t = time.perf_counter()
        events = make_events(args.events)
        print(f"bench: generated {len(events)} events in {time.perf_counter() - t:.1f} s", flush=True)
        produced = asyncio.run(produce(bootstrap, topic, events))
        del events
        print(f"bench: produced in {produced.seconds:.1f} s ({produced.rate:,.0f} events/s)", flush=True)

        raw = asyncio.run(consume_raw(bootstrap, topic, args.partitions, args.events, args.timeout))
        print(f"bench: raw consumer {raw.seconds:.2f} s ({raw.rate:,.0f} events/s)", flush=True)

        layers = run_worker_layer(
            settings,
            redis_server,
            kafka,
            args.events,
            args.stall_timeout,
            args.profile,
            args.keep_logs,
            stack,
        )
        results["layers"] = [
            {
                **asdict(x),
                "events_per_s": x.rate,
                "cpu_us_per_event": x.cpu_us_per_event,
                "rate_vs_raw": x.rate / raw.rate,
                "cpu_vs_raw": x.cpu_us_per_event / raw.cpu_us_per_event,
            }
            for x in (produced, raw, *layers)
        ]
        print()
        print(table([raw, *layers], raw))
        steady = layers[0].extra
        print(
            f"\nproduce: {produced.rate:,.0f} events/s, {produced.cpu_us_per_event:.1f} CPU µs/event; "
            f"join delay {steady['join_delay_s']:.1f} s"
        )
        print(
            f"redis: {steady['fcalls']} FCALLs = {steady['fcalls_per_event']:.4f} per event, "
            f"{steady['fcall_usec_per_call'] or 0:.0f} µs per call "
            f"({steady['fcall_usec_per_event']:.1f} µs/event in scripts); server CPU "
            f"{steady['redis_server_cpu_us_per_event']:.1f} µs/event; Tansu CPU "
            f"{steady['tansu_cpu_us_per_event']:.1f} µs/event (steady window)"
        )
        print(f"redis calls by command: {steady['redis_calls_by_command']}")
        print(f"exporter pulse_events_total: {steady['exported_pulse_events_total']}")
        if steady["other_pipeline_counters"]:
            print(f"other pipeline counters: {steady['other_pipeline_counters']}")
        if args.profile is not None and args.profile.exists():
            spots = hot_spots(args.profile)
            results["profile"] = {"raw": str(args.profile), **spots}
            print(f"\npy-spy ({spots['samples']} samples, all worker threads, idle excluded); top own time:")
            for name, n, share in spots["own"]:
                print(f"  {share:6.1%} {n:>7}  {name}")
            print("top inclusive:")
            for name, n, share in spots["inclusive"]:
                print(f"  {share:6.1%} {n:>7}  {name}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000, help="events to produce and consume")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of the topics")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="py-spy raw profile of the worker, written here (needs .venv/bin/py-spy)",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="raw layer time limit, s")
    parser.add_argument(
        "--stall-timeout",
        type=float,
        default=120.0,
        help="give up when the worker accepts nothing new for this long, s",
    )
    parser.add_argument(
        "--keep-logs",
        action="store_true",
        help="keep the worker and exporter logs (always kept after a failure)",
    )
    args = parser.parse_args()
    try:
        results = bench(args)
    except KeyboardInterrupt:
        print("\nbench: interrupted; everything stopped", file=sys.stderr)
        return 130
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
        print(f"\nbench: results in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
