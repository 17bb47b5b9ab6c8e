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
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import redis  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402

from bench.host import DEBIAN_REDIS, cleanup_guard, commandstats, machine, proc_cpu_s, tail  # noqa: E402
from bench.pyspy import finish_profiler, hot_spots, start_profiler  # noqa: E402
from metrics_core.settings import Settings  # noqa: E402
from metrics_core.store.base import ShardId  # noqa: E402
from metrics_core.store.redis_store import namespace, shard_prefix  # noqa: E402
from streams.commands import settings_env, topic_plan  # noqa: E402
from streams.embedded import EmbeddedKafka, EmbeddedRedis  # noqa: E402
from streams.kafka_admin import ensure_topics, kafka_bootstrap  # noqa: E402
from streams.procs import free_port, stop_process, wait_for_port  # noqa: E402
from streams.simulation.mix import routing  # noqa: E402
from streams.simulation.web import WebTraffic  # noqa: E402

FAMILY = "clickstream"
SEED = 20240601
REBALANCE_S = 3.0  # Tansu admits a group member only after the rebalance timeout
SEND_CHUNK = 5000
POLL_S = 0.05
# WebTraffic scans its list of open visits on every step (quadratic in the visits open at
# once), so the traffic comes from many small generators, each at a modest rate.
GENERATORS = 100
GENERATOR_RATE = 10  # events/s of simulated time per generator


@dataclass
class Layer:
    layer: str
    events: int
    seconds: float
    cpu_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s / self.events * 1e6 if self.events else float("nan")


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


# --- layer 1: raw consumer -----------------------------------------------------------------


async def consume_raw(bootstrap: str, topic: str, partitions: int, count: int, timeout_s: float) -> Layer:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="pulse-bench-raw",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen, nbytes, types = 0, 0, Counter[str]()
        deadline = time.monotonic() + timeout_s
        wall, cpu = time.perf_counter(), time.process_time()
        while seen < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"raw consumer read {seen}/{count} events in {timeout_s:g} s")
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for records in batches.values():
                for record in records:
                    types[orjson.loads(record.value)["type"]] += 1
                    nbytes += len(record.value)
                seen += len(records)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await consumer.stop()
    return Layer(
        "raw (aiokafka getmany + orjson)",
        seen,
        wall,
        cpu,
        {"bytes_per_event": nbytes / max(seen, 1), "types": dict(types)},
    )


# --- layer 2: pulse worker -----------------------------------------------------------------


def accepted_counts(client: redis.Redis, keys: list[str]) -> Counter[str]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    total: Counter[str] = Counter()
    for fields in pipe.execute():
        for name, value in fields.items():
            total[name.decode()] += int(value)
    return total


def spawn(command: str, settings: Settings, log: Path, stack: ExitStack) -> subprocess.Popen[bytes]:
    env = settings_env(settings) | {"PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", command],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.callback(stop_process, proc, 5.0)
    return proc


def scrape_events_total(port: int, topic: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("pulse_events_total{") and f'topic="{topic}"' in line:
            labels, _, value = line.rpartition(" ")
            kind = re.search(r'type="([^"]*)"', labels)
            found[kind[1] if kind else labels] = float(value)
    return found


def run_worker_layer(
    settings: Settings,
    redis_server: EmbeddedRedis,
    kafka: EmbeddedKafka,
    count: int,
    stall_s: float,
    profile: Path | None,
    keep: bool,
    stack: ExitStack,
) -> list[Layer]:
    assert settings.redis_url
    client = redis.Redis.from_url(settings.redis_url)
    stack.callback(client.close)
    ns = namespace(settings.topic_prefix)
    keys = [f"{shard_prefix(ns, ShardId(FAMILY, p))}:pipe" for p in range(settings.partitions)]
    logdir = Path(tempfile.mkdtemp(prefix="pulse-bench-"))
    keep_logs = [keep]  # the logs stay after a failure, or when asked
    stack.callback(lambda: keep_logs[0] or shutil.rmtree(logdir, ignore_errors=True))
    worker_log, exporter_log = logdir / "worker.log", logdir / "exporter.log"
    print(f"bench: worker log {worker_log}", flush=True)

    stats_before = commandstats(client)
    exporter = spawn("exporter", settings, exporter_log, stack)
    redis_cpu0, kafka_cpu0 = proc_cpu_s(redis_server.pid), proc_cpu_s(kafka.pid)
    t_spawn = time.perf_counter()
    worker = spawn("worker", settings, worker_log, stack)
    profiler: subprocess.Popen[bytes] | None = None

    first: tuple[float, int, float, float, float] | None = None  # time, accepted, cpus at that time
    last_change, last_accepted = time.perf_counter(), 0
    counts: Counter[str] = Counter()
    accepted = 0
    try:
        while accepted < count:
            if worker.poll() is not None:
                raise RuntimeError(f"pulse worker exited with code {worker.returncode}")
            if exporter.poll() is not None:
                raise RuntimeError(f"pulse exporter exited with code {exporter.returncode}")
            counts = accepted_counts(client, keys)
            now = time.perf_counter()
            accepted = sum(n for name, n in counts.items() if name.startswith("acc\x1f"))
            if accepted and first is None:
                first = (
                    now,
                    accepted,
                    proc_cpu_s(worker.pid),
                    proc_cpu_s(redis_server.pid),
                    proc_cpu_s(kafka.pid),
                )
                print(
                    f"bench: first events accepted {now - t_spawn:.1f} s after the worker started", flush=True
                )
                if profile is not None:
                    profiler = start_profiler(worker.pid, profile, stack)
            if accepted != last_accepted:
                last_change, last_accepted = now, accepted
            elif now - last_change > stall_s:
                raise TimeoutError(f"no progress for {stall_s:g} s at {accepted}/{count} accepted")
            if accepted < count:
                time.sleep(POLL_S)
        t_last = time.perf_counter()
        worker_cpu, redis_cpu, kafka_cpu = (
            proc_cpu_s(worker.pid),
            proc_cpu_s(redis_server.pid),
            proc_cpu_s(kafka.pid),
        )
        finish_profiler(profiler)
    except Exception:
        keep_logs[0] = True
        print(f"bench: pulse worker failed; end of {worker_log}:\n{tail(worker_log)}", file=sys.stderr)
        print(f"bench: end of {exporter_log}:\n{tail(exporter_log, 1500)}", file=sys.stderr)
        raise
    stats_after = commandstats(client)
    assert first is not None
    t_first, acc_first, wcpu_first, rcpu_first, kcpu_first = first
    steady_events = accepted - acc_first

    calls = {
        name: int(stats_after[name]["calls"] - stats_before.get(name, {}).get("calls", 0))
        for name in stats_after
    }
    usec = {
        name: stats_after[name]["usec"] - stats_before.get(name, {}).get("usec", 0) for name in stats_after
    }
    calls = {name: n for name, n in sorted(calls.items(), key=lambda kv: -kv[1]) if n}
    fcalls = calls.get("fcall", 0) + calls.get("fcall_ro", 0)
    fcall_usec = usec.get("fcall", 0) + usec.get("fcall_ro", 0)
    others = {name: n for name, n in counts.items() if not name.startswith(("acc\x1f", "lat\x1f", "lag\x1f"))}
    try:
        wait_for_port("127.0.0.1", settings.exporter_port, 30.0, exporter)
        exported = scrape_events_total(settings.exporter_port, settings.topic(FAMILY))
    except (OSError, TimeoutError, ChildProcessError) as exc:
        exported = {"error": str(exc)}  # type: ignore[dict-item]
    common = {
        "fcalls": fcalls,
        "fcalls_per_event": fcalls / count,
        "fcall_usec_per_event": fcall_usec / count,
        "fcall_usec_per_call": fcall_usec / fcalls if fcalls else None,
        "redis_calls_by_command": calls,
        "redis_calls_note": "includes the bench's own HGETALL polling and INFO",
        "exported_pulse_events_total": exported,
        "other_pipeline_counters": others,
        "join_delay_s": t_first - t_spawn,
        "worker_log": str(worker_log),
    }
    steady = Layer(
        "pulse worker (first→last accepted)",
        steady_events,
        t_last - t_first,
        worker_cpu - wcpu_first,
        {
            **common,
            "redis_server_cpu_us_per_event": (redis_cpu - rcpu_first) / steady_events * 1e6,
            "tansu_cpu_us_per_event": (kafka_cpu - kcpu_first) / steady_events * 1e6,
        },
    )
    total = Layer(
        "pulse worker (incl. start + join)",
        accepted,
        t_last - t_spawn,
        worker_cpu,
        {
            "redis_server_cpu_us_per_event": (redis_cpu - redis_cpu0) / accepted * 1e6,
            "tansu_cpu_us_per_event": (kafka_cpu - kafka_cpu0) / accepted * 1e6,
        },
    )
    return [steady, total]


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
