"""The two layers `bench/throughput.py` measures over the same produced events.

1. `consume_raw`: a bare aiokafka consumer (all partitions assigned, no group) doing
   getmany + orjson.loads: the practical limit for a Python consumer;
2. `run_worker_layer`: `pulse worker` (and an exporter) until Redis holds every event; the
   steady window (first to last accepted event) and the whole run including the group join:
   rate, CPU of the worker, of Redis and of Tansu, Redis calls by command.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.host import commandstats, proc_cpu_s, tail
from bench.pyspy import finish_profiler, start_profiler
from metrics_core.settings import Settings
from metrics_core.store.base import ShardId
from metrics_core.store.redis_store import namespace, shard_prefix
from streams.commands import settings_env
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.procs import stop_process, wait_for_port

ROOT = Path(__file__).resolve().parent.parent
FAMILY = "clickstream"
POLL_S = 0.05


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
