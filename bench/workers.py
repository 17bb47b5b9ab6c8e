"""`pulse worker` (and exporter) children for the harness, and their progress read from Redis.

Every run gets a fresh Redis database and consumer group, so it reads its topics from offset
0 with empty fences, whatever ran before on the same topics.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import redis

from bench.common import (
    POLL_S,
    STEADY,
    Context,
    Dataset,
    Result,
    calls_between,
    child_env,
    command_calls,
    log_tail,
    process_cpu,
    round_trips,
    spawn,
    steady_extra,
    used_memory,
)
from metrics_core.settings import Settings
from metrics_core.store.base import ShardId
from metrics_core.store.redis_store import namespace, shard_prefix
from streams.commands import settings_env
from streams.procs import free_port, stop_process, wait_for_port

REBALANCE_S = 3.0  # Tansu admits a group member only after the rebalance timeout
PROCESSED = ("acc\x1f", "rej\x1f", "dup", "late")  # pipeline counters: every event ends in one


def pulse_settings(ctx: Context, prefix: str, label: str) -> Settings:
    """Settings for one run on `prefix`'s topics: its own Redis database and consumer group."""
    return Settings(
        kafka_url=ctx.kafka.url,
        redis_url=ctx.new_db(),
        topic_prefix=prefix,
        partitions=ctx.partitions,
        rebalance_timeout_s=REBALANCE_S,
        exporter_host="127.0.0.1",
        exporter_port=free_port(),
        worker_health_port=0,  # several workers at once: no fixed port
        app_id=f"pulse-bench-{label}-{uuid.uuid4().hex[:6]}",
    )


def start(ctx: Context, settings: Settings, command: str, name: str) -> Any:
    env = child_env(base=settings_env(settings))
    proc = spawn(ctx, [sys.executable, "-m", "streams.cli", command], env, name)
    if command == "exporter":
        wait_for_port("127.0.0.1", settings.exporter_port, 60.0, proc)
    return proc


@dataclass
class Progress:
    """Events the workers have finished with (accepted, rejected, duplicate or late), from Redis."""

    client: redis.Redis
    keys: list[str]
    polls: int = 0
    last: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, client: redis.Redis, settings: Settings, families: tuple[str, ...]) -> Progress:
        ns = namespace(settings.topic_prefix)
        keys = [
            f"{shard_prefix(ns, ShardId(family, p))}:pipe"
            for family in families
            for p in range(settings.partitions)
        ]
        return cls(client, keys)

    def processed(self) -> int:
        pipe = self.client.pipeline(transaction=False)
        for key in self.keys:
            pipe.hgetall(key)
        total: Counter[str] = Counter()
        for fields in pipe.execute():
            for name, value in fields.items():
                total[name.decode()] += int(value)
        self.polls += 1
        self.last = total
        return sum(n for name, n in total.items() if name.startswith(PROCESSED))

    @property
    def own_calls(self) -> dict[str, int]:
        return {"hgetall": self.polls * len(self.keys)}

    def by_kind(self) -> dict[str, int]:
        kinds: Counter[str] = Counter()
        for name, n in self.last.items():
            if name.startswith(PROCESSED):
                kinds[name.replace("\x1f", ":")] += n
        return dict(kinds)


def wait_for(
    ctx: Context, progress: Progress, target: int, procs: dict[str, Any], timeout_s: float | None = None
) -> tuple[float, int]:
    """Poll until `target` events are processed; (time, processed). Fails on a dead child or a stall."""
    last_change, last = time.monotonic(), -1
    deadline = time.monotonic() + (timeout_s or 1e9)
    while True:
        done = progress.processed()
        now = time.monotonic()
        if done >= target:
            return time.perf_counter(), done
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{log_tail(ctx, name)}")
        if done != last:
            last_change, last = now, done
        elif now - last_change > ctx.stall_s or now > deadline:
            name = next(iter(procs))
            raise TimeoutError(f"{name}: {done}/{target} processed, no progress:\n{log_tail(ctx, name)}")
        time.sleep(POLL_S)


@dataclass(frozen=True)
class Mark:
    """A moment of a run: time, events processed, CPU seconds of each worker and of (Redis, Tansu)."""

    t: float
    n: int
    cpu: dict[str, float]
    servers: tuple[float, float]


def _servers(ctx: Context) -> tuple[float, float]:
    return process_cpu(ctx.redis_server.pid), process_cpu(ctx.kafka.pid)


def run_workers(ctx: Context, data: Dataset, workers: int, layer: str, label: str) -> Result:
    """`workers` pulse workers in one group over `data`, until every event is processed.

    The rate and CPU are taken between 10 % and 90 % of the events (polled every 50 ms).
    """
    settings = pulse_settings(ctx, data.prefix, label)
    assert settings.redis_url
    client = ctx.client(settings.redis_url)
    progress = Progress.of(client, settings, data.families)
    memory0, calls0 = used_memory(client), command_calls(client)
    t_spawn = time.perf_counter()
    procs = {
        f"{label}-worker{i}": start(ctx, settings, "worker", f"{label}-worker{i}") for i in range(workers)
    }
    marks: list[Mark] = []
    try:
        for target in (1, int(data.count * STEADY[0]), int(data.count * STEADY[1]), data.count):
            t, n = wait_for(ctx, progress, target, procs)
            marks.append(Mark(t, n, {name: process_cpu(p.pid) for name, p in procs.items()}, _servers(ctx)))
    finally:
        for proc in procs.values():
            stop_process(proc, 5.0)
    memory1, calls1 = used_memory(client), command_calls(client)
    calls = calls_between(calls0, calls1, progress.own_calls)
    first, a, b, last = marks
    steady = b.n - a.n
    cpu_by_worker = {name: b.cpu[name] - a.cpu[name] for name in procs}
    return Result(
        layer,
        data.name,
        steady,
        b.t - a.t,
        sum(cpu_by_worker.values()),
        round_trips(calls) / data.count,
        extra={
            "workers": workers,
            "events_total": last.n,
            "join_delay_s": first.t - t_spawn,
            "first_to_last": steady_extra(
                last.n - first.n, last.t - first.t, sum(last.cpu.values()) - sum(first.cpu.values())
            ),
            "events_per_s_incl_join": last.n / (last.t - t_spawn),
            "cpu_s_by_worker": cpu_by_worker,
            "redis_calls_by_command": calls,  # inside functions included
            "redis_commands_per_event": sum(calls.values()) / data.count,
            "redis_server_cpu_us_per_event": (b.servers[0] - a.servers[0]) / max(steady, 1) * 1e6,
            "tansu_cpu_us_per_event": (b.servers[1] - a.servers[1]) / max(steady, 1) * 1e6,
            "used_memory_delta_bytes": memory1 - memory0,
            "processed_by_kind": progress.by_kind(),
            "redis_db": settings.redis_url.rsplit("/", 1)[-1],
        },
    )
