"""The exactness harness: a known workload, violence while it is processed, an exact verifier.

    python -m tests.system.exactness            # the CI size (also run by tests/system/test_exactness.py)
    python -m tests.system.exactness --full     # the full size (`make exactness`)
    python -m tests.system.exactness --runs 3 --seed 11 --json /tmp/exactness.json

One run: a fresh Tansu broker and a redis-server with AOF everysec; a seeded multi-family
workload (tests/system/workload.py) sent at a steady rate, 10 % of it twice, with garbage;
meanwhile, at seeded random moments, workers are SIGKILLed and restarted, a second worker
joins and leaves, Redis is killed and restarted, Redis loses its last second (AOF cut), and
the broker stops answering for a few seconds. Then the workers catch up and every exported
value is compared with an independent reference (tests/system/reference.py): exact, and
HyperLogLogs within 2 %.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from streams.commands import create_topics
from streams.rebuild import caught_up
from tests.integration.harness import samples, scrape, total
from tests.system import redis_crash
from tests.system.reference import expected
from tests.system.stack import system_settings
from tests.system.verify import Verdict, verify
from tests.system.violence import Stack, schedule
from tests.system.workload import Workload, build

WINDOWS = (("1h", 3600), ("24h", 86400))
PARTITIONS = 4
TICK_S = 0.25
MAX_RUN_S = 25 * 60  # the RECENT band stays inside the 1h window this long (workload.py)


@dataclass(frozen=True)
class Size:
    name: str
    events: int  # distinct events (messages sent: ~10 % more)
    send_s: float  # the workload is sent over this long, violence meanwhile
    actions: dict[str, int]
    catch_up_s: float


CI = Size(
    "ci",
    12_000,
    45.0,
    {
        "worker-kill": 3,
        "worker-join": 1,
        "worker-leave": 1,
        "redis-kill": 1,
        "redis-power-loss": 1,
        "broker-pause": 1,
    },
    240.0,
)
FULL = Size(
    "full",
    200_000,
    300.0,
    {
        "worker-kill": 10,
        "worker-join": 3,
        "worker-leave": 3,
        "redis-kill": 3,
        "redis-power-loss": 3,
        "broker-pause": 3,
    },
    900.0,
)


@dataclass
class Report:
    size: str
    seed: int
    events: int = 0
    messages: int = 0
    duplicates_sent: int = 0
    garbage_sent: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    timeline: list[str] = field(default_factory=list)
    records_lost_by_power_losses: int = 0  # applied, then taken back by an AOF cut: applied again
    unexpected_worker_exits: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    worker_log: dict[str, int] = field(default_factory=dict)  # resumes, rewinds, retries seen
    store_errors_total: float = 0
    duplicates_dropped: float = 0
    exporter_scrapes: dict[str, int] = field(default_factory=dict)
    compared: int = 0
    zeros: int = 0
    hll_compared: int = 0
    worst_hll_error: float = 0.0
    mismatches: list[str] = field(default_factory=list)
    workdir: str = ""

    @property
    def exact(self) -> bool:
        return not self.mismatches and self.compared > 0


async def _send(stack: Stack, workload: Workload, span_s: float) -> None:
    """The workload's messages at a steady rate over `span_s`."""
    assert stack.settings is not None
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka.bootstrap, acks="all", enable_idempotence=False, linger_ms=5
    )
    await producer.start()
    try:
        per_tick = max(1, int(len(workload.messages) * TICK_S / span_s))
        started = time.monotonic()
        for n, start in enumerate(range(0, len(workload.messages), per_tick)):
            futures = [
                await producer.send(stack.settings.topic(m.family), m.value, key=m.key, partition=m.partition)
                for m in workload.messages[start : start + per_tick]
            ]
            await asyncio.gather(*futures)
            await asyncio.sleep(max(0.0, started + (n + 1) * TICK_S - time.monotonic()))
    finally:
        await producer.stop()


async def _violence(stack: Stack, plan: list[tuple[float, str]]) -> None:
    started = time.monotonic()
    for at_s, action in plan:
        await asyncio.sleep(max(0.0, started + at_s - time.monotonic()))
        await stack.act(action)


async def _watch(stack: Stack, port: int, tally: dict[str, int], done: asyncio.Event) -> None:
    """Scrape the exporter every 2 s meanwhile: it must always answer; pulse_up shows Redis."""
    while not done.is_set():
        try:
            found = samples(await asyncio.to_thread(scrape, port))
            tally["up" if found.get(("pulse_up", frozenset())) == 1 else "redis_down"] += 1
        except OSError:
            tally["no_answer"] += 1
        stack.revive()
        await asyncio.sleep(2.0)


async def _catch_up(stack: Stack, workload: Workload, port: int, timeout_s: float) -> bool:
    """Done when the exporter shows every distinct event counted, every garbage message rejected
    and at least every duplicate dropped, and every fence is at its partition's high watermark,
    twice 2 s apart. (The counts matter: Tansu 0.6 under-reports high watermarks after
    multi-record batches, so the fences alone can look caught up early.)"""
    assert stack.settings is not None and stack.settings.redis_url
    client = aioredis.Redis.from_url(stack.settings.redis_url, decode_responses=True)
    wanted = (
        ("pulse_events_total", len(workload.events)),
        ("pulse_events_rejected_total", sum(workload.garbage.values())),
        ("pulse_events_duplicate_total", sum(workload.duplicates.values())),
    )
    deadline, streak = time.monotonic() + timeout_s, 0
    try:
        while time.monotonic() < deadline:
            stack.revive()
            try:
                found = samples(await asyncio.to_thread(scrape, port))
                counted = all(total(found, name) >= n for name, n in wanted)
                streak = streak + 1 if counted and await caught_up(stack.settings, client) else 0
            except (OSError, aioredis.RedisError):
                streak = 0
            if streak >= 2:
                return True
            await asyncio.sleep(2.0)
        return False
    finally:
        await client.aclose()


_LOG_MARKS = {
    "resumed_at_fences": r"resuming at the offset fences: (?!none moved)",
    "rewinds_in_batch": r"went back from offset",
    "lost_commits_found": r"the store lost commits of",
    "retried_batches": r"batch failed \(attempt",
}


def _count_logs(workdir: Path) -> dict[str, int]:
    text = "\n".join(p.read_text(errors="replace") for p in workdir.glob("worker-*.log"))
    return {name: len(re.findall(pattern, text)) for name, pattern in _LOG_MARKS.items()}


async def run(size: Size, seed: int, workdir: Path) -> Report:
    """One run of the harness; the report says whether every value came out exact."""
    rng = random.Random(seed)
    report = Report(size.name, seed, workdir=str(workdir))
    stack = Stack(workdir, rng)
    clock = time.monotonic()
    try:
        stack.start_servers()
        stack.settings = system_settings(
            stack.kafka.url,
            stack.redis.url,
            f"x{uuid.uuid4().hex[:6]}.",
            partitions=PARTITIONS,
            windows=",".join(label for label, _ in WINDOWS),
            batch_within_s=0.1,
        )
        await create_topics(stack.settings)
        t0_s = int(time.time())
        workload = build(seed, size.events, t0_s, PARTITIONS)
        report.events, report.messages = len(workload.events), workload.sent
        report.duplicates_sent, report.garbage_sent = (
            sum(workload.duplicates.values()),
            sum(workload.garbage.values()),
        )
        stack.start_exporter()
        stack.start_worker("A")
        port = stack.settings.exporter_port
        report.seconds["setup"] = time.monotonic() - clock

        clock = time.monotonic()
        scrapes: dict[str, int] = {"up": 0, "redis_down": 0, "no_answer": 0}
        done = asyncio.Event()
        watcher = asyncio.create_task(_watch(stack, port, scrapes, done))
        await asyncio.gather(
            _send(stack, workload, size.send_s), _violence(stack, schedule(rng, size.send_s, size.actions))
        )
        report.seconds["send_with_violence"] = time.monotonic() - clock

        clock = time.monotonic()
        caught = await _catch_up(stack, workload, port, size.catch_up_s)
        done.set()
        await watcher
        report.seconds["catch_up"] = time.monotonic() - clock
        report.exporter_scrapes = scrapes
        if not caught:
            report.mismatches.append(f"the workers did not catch up within {size.catch_up_s:g} s")
        await asyncio.sleep(1.0)
        now_s = time.time()
        if now_s - t0_s > MAX_RUN_S:
            report.mismatches.append(f"the run took over {MAX_RUN_S} s: the window bands no longer hold")
        found = samples(scrape(port))
        want = expected(workload.events, workload.garbage, now_s, WINDOWS, stack.settings.topic)
        _record(report, verify(want, found), found)
    finally:
        report.actions, report.timeline = dict(stack.counts), stack.timeline
        report.records_lost_by_power_losses = stack.lost_records
        report.unexpected_worker_exits = stack.unexpected_exits
        report.worker_log = _count_logs(workdir)
        stack.stop()
    return report


def _record(report: Report, verdict: Verdict, found: Any) -> None:
    report.compared, report.zeros = verdict.compared, verdict.zeros
    report.hll_compared, report.worst_hll_error = verdict.approximate, round(verdict.worst_hll_error, 5)
    report.mismatches.extend(verdict.mismatches)
    report.store_errors_total = total(found, "pulse_store_errors_total")
    report.duplicates_dropped = total(found, "pulse_events_duplicate_total")
    if report.duplicates_dropped < report.duplicates_sent:
        report.mismatches.append(
            f"duplicates dropped {report.duplicates_dropped:g} < duplicates sent {report.duplicates_sent}"
        )


def summary(reports: list[Report]) -> str:
    lines = []
    for r in reports:
        verdict = "EXACT" if r.exact else f"NOT EXACT ({len(r.mismatches)} mismatches)"
        acts = ", ".join(f"{n} {a}" for a, n in sorted(r.actions.items()))
        lines += [
            f"run {r.size} seed {r.seed}: {verdict}",
            f"  events {r.events} distinct, {r.messages} messages ({r.duplicates_sent} duplicates, "
            f"{r.garbage_sent} garbage)",
            f"  violence: {acts}; unexpected worker exits {r.unexpected_worker_exits}; "
            f"records whose commits power losses took back {r.records_lost_by_power_losses}",
            f"  timeline: {'; '.join(r.timeline)}",
            f"  worker logs: {r.worker_log}; store errors {r.store_errors_total:g}; "
            f"duplicates dropped {r.duplicates_dropped:g}",
            f"  exporter scrapes meanwhile: {r.exporter_scrapes}",
            f"  compared {r.compared} values ({r.hll_compared} HyperLogLog, worst error "
            f"{r.worst_hll_error:.2%}), {r.zeros} other samples all 0",
            "  seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in r.seconds.items()),
            *(f"  MISMATCH {m}" for m in r.mismatches[:30]),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.system.exactness", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--full", action="store_true", help=f"the full size ({FULL.events} events)")
    parser.add_argument("--events", type=int, default=None, help="override the number of events")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="write the reports here")
    args = parser.parse_args(argv)
    if not redis_crash.available():
        print("needs Debian's redis-server and redis-check-aof: run `make tools`", file=sys.stderr)
        return 2
    size = FULL if args.full else CI
    if args.events:
        size = Size(size.name, args.events, size.send_s, size.actions, size.catch_up_s)
    reports = []
    for run_no in range(args.runs):
        workdir = Path(tempfile.mkdtemp(prefix=f"pulse-exactness-{size.name}-"))
        reports.append(asyncio.run(run(size, args.seed + run_no, workdir)))
        print(summary(reports[-1:]), flush=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) | {"exact": r.exact} for r in reports], indent=2))
    exact = all(r.exact for r in reports)
    print(f"{len(reports)} run(s): {'all exact' if exact else 'NOT EXACT'}")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
