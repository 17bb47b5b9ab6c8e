"""The processes of one exactness run, and what the harness does to them.

`Stack` owns a fresh Tansu broker, a redis-server with AOF everysec, the exporter and up to
two `pulse worker` processes; its methods are the violence: SIGKILL a worker (and restart
it), a second worker joining and leaving, Redis killed and restarted (AOF replays every
answered write), Redis "losing power" (its last second cut from the AOF), and the broker
unavailable. Tansu keeps topics in memory only, so a restart would lose them: the broker is
paused with SIGSTOP and resumed with SIGCONT instead, which clients see as a broker that
stops answering.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import redis

from metrics_core.events.model import FAMILIES
from metrics_core.settings import Settings
from metrics_core.store.redis_store import namespace
from streams.commands import settings_env
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.procs import stop_process
from tests.system import redis_crash

ACTIONS = ("worker-kill", "worker-join", "worker-leave", "redis-kill", "redis-power-loss", "broker-pause")


class Stack:
    """Broker, Redis, exporter and workers of one run; `counts` tallies the violence done."""

    def __init__(self, workdir: Path, rng: random.Random) -> None:
        self.workdir = workdir
        self.rng = rng
        self.kafka = EmbeddedKafka()
        self.redis: EmbeddedRedis = redis_crash.aof_redis(workdir / "redis")
        self.settings: Settings | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.exporter: subprocess.Popen[bytes] | None = None
        self.counts: Counter[str] = Counter()
        self.timeline: list[str] = []
        self.lost_records = 0  # records whose commits the power losses took back
        self.unexpected_exits = 0
        self._launches = 0
        self._down: set[str] = set()  # workers down on purpose (killed, not restarted yet; left)
        self._all: list[subprocess.Popen[bytes]] = []  # every process started, for stop()

    def start_servers(self) -> None:
        self.kafka.start()
        self.redis.start()

    def stop(self) -> None:
        for proc in self._all:
            stop_process(proc, grace_s=5.0)
        self.workers.clear()
        if self.kafka.pid is not None:
            os.kill(self.kafka.pid, signal.SIGCONT)  # in case a pause was interrupted
        self.kafka.stop()
        self.redis.stop()

    # --- processes

    def _spawn(self, command: str, name: str) -> subprocess.Popen[bytes]:
        assert self.settings is not None
        self._launches += 1
        log = (self.workdir / f"{name}-{self._launches:03d}.log").open("wb")
        with log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", command],
                env=settings_env(self.settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._all.append(proc)
        return proc

    def start_exporter(self) -> None:
        self.exporter = self._spawn("exporter", "exporter")

    def start_worker(self, name: str) -> None:
        self._down.discard(name)
        if name not in self.live_workers():
            self.workers[name] = self._spawn("worker", f"worker-{name}")

    def live_workers(self) -> list[str]:
        return [name for name, proc in self.workers.items() if proc.poll() is None]

    def revive(self) -> None:
        """Restart worker A if it died on its own (it never should): counted as unexpected."""
        proc = self.workers.get("A")
        if proc is not None and proc.poll() is not None and "A" not in self._down:
            self.unexpected_exits += 1
            self.start_worker("A")

    # --- violence

    async def act(self, action: str) -> None:
        started = time.time()
        await getattr(self, "_" + action.replace("-", "_"))()
        self.counts[action] += 1
        self.timeline.append(f"{time.strftime('%H:%M:%S', time.localtime(started))} {action}")

    async def _worker_kill(self) -> None:
        name = self.rng.choice(self.live_workers() or ["A"])
        self._down.add(name)
        if name in self.workers:
            stop_process(self.workers[name], grace_s=0)  # SIGKILL, as a crash
        await asyncio.sleep(self.rng.uniform(0.5, 3.0))
        self.start_worker(name)

    async def _worker_join(self) -> None:
        if "B" not in self.live_workers():
            self.start_worker("B")

    async def _worker_leave(self) -> None:
        self._down.add("B")
        proc = self.workers.pop("B", None)
        if proc is not None:
            await asyncio.to_thread(stop_process, proc, 15.0)  # SIGTERM: a clean leave

    async def _redis_kill(self) -> None:
        await asyncio.to_thread(redis_crash.crash, self.redis)

    async def _redis_power_loss(self) -> None:
        """Strikes while commits flow (after a rebalance settles, say), so that it takes some back."""
        before, deadline = await asyncio.to_thread(self.applied_records), time.monotonic() + 15
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            now = await asyncio.to_thread(self.applied_records)
            if now > before:
                before = now
                break
        cut = int(time.time()) - 2  # the last 1-2 s of writes are gone, as AOF everysec allows
        await asyncio.to_thread(redis_crash.lose_writes_after, self.redis, cut)
        self.lost_records += max(0, before - await asyncio.to_thread(self.applied_records))

    def applied_records(self) -> int:
        """Records the offset fences cover, over every partition (what a power loss can take back)."""
        assert self.settings is not None
        ns = namespace(self.settings.topic_prefix)
        client = redis.Redis.from_url(self.redis.url, socket_timeout=10)
        try:
            fences = [
                client.hvals(f"{{{ns}:{f}:{p}}}:fence")
                for f in FAMILIES
                for p in range(self.settings.partitions)
            ]
        finally:
            client.close()
        return sum(int(v) + 1 for values in fences for v in values)

    async def _broker_pause(self) -> None:
        assert self.kafka.pid is not None
        os.kill(self.kafka.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(self.rng.uniform(3.0, 6.0))
        finally:
            os.kill(self.kafka.pid, signal.SIGCONT)


def schedule(rng: random.Random, span_s: float, counts: dict[str, int]) -> list[tuple[float, str]]:
    """Actions spread over the span, one per slot at a seeded random point of it; joins and
    leaves alternate, a join first."""
    singles = [a for a, n in counts.items() if a not in ("worker-join", "worker-leave") for _ in range(n)]
    rng.shuffle(singles)
    pairs = ["worker-join", "worker-leave"] * counts.get("worker-join", 0)
    total = len(singles) + len(pairs)
    at_pairs = set(rng.sample(range(total), len(pairs)))
    mixed, a, b = [], iter(singles), iter(pairs)
    for i in range(total):
        mixed.append(next(b) if i in at_pairs else next(a))
    slot_s = 0.9 * span_s / max(1, total)
    return [((i + rng.uniform(0.2, 0.8)) * slot_s, action) for i, action in enumerate(mixed)]
