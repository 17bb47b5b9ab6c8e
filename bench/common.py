"""What the harness's parts share: the servers, the produced data sets, results and child processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import redis  # noqa: E402
from aiokafka import AIOKafkaProducer  # noqa: E402

from bench.host import commandstats, proc_cpu_s, tail  # noqa: E402
from streams.embedded import EmbeddedKafka, EmbeddedRedis  # noqa: E402
from streams.procs import stop_process  # noqa: E402

SEND_CHUNK = 5000
POLL_S = 0.05
RETENTION_MS = 7 * 24 * 3_600_000  # Quix Streams reads `retention.ms` of its input topic: set it on all
SEED = 20240601
Message = tuple[str, bytes, bytes]  # topic, key, value


@dataclass
class Context:
    """One run: the embedded servers, where logs go, and the knobs every part reads."""

    kafka: EmbeddedKafka
    redis_server: EmbeddedRedis
    stack: ExitStack
    logdir: Path
    quick: bool
    partitions: int
    stall_s: float
    _db: int = 0

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap

    def new_db(self) -> str:
        """A fresh Redis database for one layer: its keys, fences and group state start empty."""
        self._db += 1
        if self._db >= 16:  # redis-server's default `databases`
            raise RuntimeError("the harness ran out of Redis databases (16)")
        return f"redis://127.0.0.1:{self.redis_server.port}/{self._db}"

    def client(self, url: str | None = None) -> redis.Redis:
        client = redis.Redis.from_url(url or self.redis_server.url)
        self.stack.callback(client.close)
        return client


@dataclass(frozen=True)
class Dataset:
    """Events produced once under `prefix` and read by every layer from offset 0."""

    name: str  # "web" or "mixed"
    prefix: str
    families: tuple[str, ...]  # topic families that hold events: ("clickstream",) for web
    count: int
    partitions: int
    by_family: dict[str, int] = field(default_factory=dict)

    def topics(self) -> list[str]:
        return [f"{self.prefix}{family}" for family in self.families]


STEADY = (0.1, 0.9)  # every layer's rate is measured from 10 % to 90 % of its events


@dataclass
class Result:
    """One layer's figures over its steady window: from 10 % to 90 % of the events handled."""

    layer: str
    data: str
    events: int
    seconds: float
    cpu_s: float
    redis_calls_per_event: float | None = None  # requests sent to Redis; None: it does not use Redis
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s / self.events * 1e6 if self.events else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "data": self.data,
            "events": self.events,
            "seconds": self.seconds,
            "cpu_s": self.cpu_s,
            "events_per_s": self.rate,
            "cpu_us_per_event": self.cpu_us_per_event,
            "redis_round_trips_per_event": self.redis_calls_per_event,
            **self.extra,
        }


# --- producing -----------------------------------------------------------------------------


def family_of(event: dict[str, Any]) -> str:
    return str(event["type"]).partition(".")[0]


async def produce(bootstrap: str, messages: Sequence[Message]) -> float:
    """Send everything (acks=all), in chunks; returns the seconds it took."""
    producer = new_producer(bootstrap, "pulse-bench")
    await producer.start()
    try:
        started = time.perf_counter()
        for start in range(0, len(messages), SEND_CHUNK):
            futures = [
                await producer.send(topic, value=value, key=key)
                for topic, key, value in messages[start : start + SEND_CHUNK]
            ]
            await asyncio.gather(*futures)
        return time.perf_counter() - started
    finally:
        await producer.stop()


def new_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,  # Tansu has no InitProducerId
        linger_ms=5,
        max_batch_size=256 * 1024,
        max_request_size=4 * 1024 * 1024,
    )


def encode(events: Iterable[dict[str, Any]], prefix: str, key_of: Any) -> list[Message]:
    return [(f"{prefix}{family_of(e)}", key_of(e), orjson.dumps(e)) for e in events]


# --- Redis accounting ----------------------------------------------------------------------


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])  # type: ignore[index]


def command_calls(client: redis.Redis) -> dict[str, int]:
    return {name: int(stats["calls"]) for name, stats in commandstats(client).items()}


def calls_between(before: dict[str, int], after: dict[str, int], own: dict[str, int]) -> dict[str, int]:
    """Commands the server ran between two snapshots, less the harness's own (`own`, by command)."""
    delta = {name: n - before.get(name, 0) - own.get(name, 0) for name, n in after.items()}
    delta.pop("info", None)  # the snapshots themselves
    return {name: n for name, n in sorted(delta.items(), key=lambda kv: -kv[1]) if n > 0}


SCRIPT_CALLS = ("fcall", "fcall_ro", "eval", "evalsha", "eval_ro", "evalsha_ro")
SESSION_CALLS = ("hello", "select", "auth", "client|setinfo", "function|load", "ping")


def round_trips(calls: dict[str, int]) -> int:
    """Requests a client sent, from the server's command counts.

    INFO commandstats also counts the commands a Redis Function runs inside (`redis.call`), so
    when scripts ran, the requests are the script calls plus the session commands; the few
    other direct commands (a worker's heartbeat SET every 3 s, one SADD per shard it
    registers) cannot be told from the scripts' own and are left out: they do not grow with
    events. Without scripts every command is a request.
    """
    if not any(calls.get(name) for name in SCRIPT_CALLS):
        return sum(calls.values())
    return sum(calls.get(name, 0) for name in SCRIPT_CALLS + SESSION_CALLS)


# --- child processes -----------------------------------------------------------------------


def child_env(extra: dict[str, str] | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(base if base is not None else os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env | (extra or {})


def spawn(ctx: Context, argv: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
    """A child in its own session, logging to `<logdir>/<name>.log`, stopped when the run ends."""
    log = ctx.logdir / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ctx.stack.callback(stop_process, proc, 5.0)
    return proc


def log_tail(ctx: Context, name: str, size: int = 3000) -> str:
    return tail(ctx.logdir / f"{name}.log", size)


def wait_report(
    ctx: Context, proc: subprocess.Popen[bytes], report: Path, name: str, timeout_s: float
) -> dict[str, Any]:
    """Wait for a child layer's `done` line in its JSON-lines report (bench/layers/tally.py)."""
    deadline = time.monotonic() + timeout_s
    last_size, last_change = -1, time.monotonic()
    while True:
        lines = report.read_text().splitlines() if report.exists() else []
        entries = [json.loads(line) for line in lines if line.strip()]
        done = [e for e in entries if e.get("kind") == "done"]
        if done:
            return {e["kind"]: e for e in entries if e["kind"] in ("first", "p10", "p90")} | {"done": done[0]}
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with code {proc.returncode}:\n{log_tail(ctx, name)}")
        size = len(lines)
        if size != last_size:
            last_size, last_change = size, time.monotonic()
        if time.monotonic() - last_change > ctx.stall_s or time.monotonic() > deadline:
            raise TimeoutError(f"{name}: no progress; end of its log:\n{log_tail(ctx, name)}")
        time.sleep(0.2)


def child_result(layer: str, data: Dataset, report: dict[str, Any], **extra: Any) -> Result:
    """A Result from a child's tally over 10 → 90 % of the events: its own clock and CPU (all threads)."""
    first, a, b, done = report["first"], report["p10"], report["p90"], report["done"]
    return Result(
        layer,
        data.name,
        b["n"] - a["n"],
        b["wall"] - a["wall"],
        b["cpu"] - a["cpu"],
        extra={
            "join_delay_s": first.get("since_start_s"),
            "first_to_last": steady_extra(
                done["n"] - first["n"], done["wall"] - first["wall"], done["cpu"] - first["cpu"]
            ),
            **extra,
        },
    )


def steady_extra(events: int, seconds: float, cpu_s: float) -> dict[str, float]:
    return {
        "events": events,
        "events_per_s": events / seconds if seconds > 0 else float("nan"),
        "cpu_us_per_event": cpu_s / events * 1e6 if events else float("nan"),
    }


def process_cpu(pid: int | None) -> float:
    return proc_cpu_s(pid)
