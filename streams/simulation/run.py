"""`pulse simulate`: send the traffic at a target rate (or write it as JSON Lines), with progress.

The traffic runs on its own clock (`mix.timeline`, ticks of 100 ms); the sender hands out each
tick once the wall clock has reached it, so events are never stamped in the future and, when
Kafka is slower than the rate, go out as fast as it takes them, with their own (past) times.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol

import orjson

from metrics_core.events.model import FAMILIES as TOPIC_FAMILIES
from metrics_core.settings import Settings
from streams.kafka_security import client_options
from streams.producer import KafkaSender, Message
from streams.simulation.base import Event
from streams.simulation.mix import Traffic, routing, timeline
from streams.simulation.plan import Plan

TICK_MS = 100
MAX_SEND = 5000  # messages per awaited batch when catching up


@dataclass
class Tally:
    """Events sent so far, by topic family, and when the run started (monotonic seconds)."""

    plan: Plan
    started_s: float = field(default_factory=time.monotonic)
    by_family: Counter[str] = field(default_factory=Counter)
    sim_elapsed_s: float = 0.0  # the traffic clock: lags the wall clock when Kafka is slower than the rate

    @property
    def sent(self) -> int:
        return sum(self.by_family.values())

    def add(self, events: Sequence[Event]) -> None:
        self.by_family.update(e["type"].partition(".")[0] for e in events)

    def summary(self, elapsed_s: float | None = None) -> str:
        """`1,000 events in 5.0 s (200/s): clickstream 601, email 198, ...; seed 7 (...), scenario steady`."""
        families = ", ".join(f"{f} {n:,}" for f, n in sorted(self.by_family.items())) or "nothing"
        took = ""
        if elapsed_s is not None:
            took = f" in {elapsed_s:.1f} s ({self.sent / elapsed_s if elapsed_s > 0 else 0.0:,.0f}/s)"
        return (
            f"{self.sent:,} events{took}: {families}; "
            f"seed {self.plan.seed} (--seed {self.plan.seed} repeats this traffic), {_scenario(self.plan)}"
        )


class Sender(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send_batch(self, messages: Sequence[Message]) -> None: ...


async def simulate(
    settings: Settings,
    plan: Plan,
    tally: Tally | None = None,
    progress: Callable[[Tally], None] | None = None,
    sender: Sender | None = None,
) -> Tally:
    """Send `plan`'s traffic to the family topics, keyed as the worker routes; returns the tally.

    Pass a `tally` to read the count after a cancellation (Ctrl-C) too.
    """
    assert settings.kafka_url
    tally = tally if tally is not None else Tally(plan)
    if sender is None:
        sender = KafkaSender(
            settings.kafka_url, client_id="pulse-simulate", security=client_options(settings)
        )
    topics = {family: settings.topic(family) for family in TOPIC_FAMILIES}
    await sender.start()
    start_ms, tally.started_s = int(time.time() * 1000), time.monotonic()
    traffic = Traffic(plan.seed, start_ms, plan.scenario, plan.scenario_at_s, plan.families)
    ticks = _limited(plan, timeline(traffic, start_ms, plan.rate, TICK_MS), start_ms)
    try:
        pending: list[Event] = []
        for tick_ms, events in ticks:
            wait_s = tally.started_s + (tick_ms - start_ms) / 1000 - time.monotonic()
            if wait_s > 0 and pending:
                await _send(sender, topics, pending, tally, progress)
                pending = []
                wait_s = tally.started_s + (tick_ms - start_ms) / 1000 - time.monotonic()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            pending.extend(events)
            tally.sim_elapsed_s = (tick_ms - start_ms) / 1000
            if len(pending) >= MAX_SEND:
                await _send(sender, topics, pending, tally, progress)
                pending = []
        if pending:
            await _send(sender, topics, pending, tally, progress)
    finally:
        await sender.stop()
    return tally


def _limited(
    plan: Plan, ticks: Iterator[tuple[int, list[Event]]], start_ms: int
) -> Iterator[tuple[int, list[Event]]]:
    """The ticks up to the plan's duration, cut at its count."""
    left = plan.count
    for tick_ms, events in ticks:
        if plan.duration_s is not None and tick_ms - start_ms > plan.duration_s * 1000:
            return
        if left is not None:
            events = events[:left]
            left -= len(events)
        yield tick_ms, events
        if left == 0:
            return


async def _send(
    sender: Sender,
    topics: dict[str, str],
    events: list[Event],
    tally: Tally,
    progress: Callable[[Tally], None] | None,
) -> None:
    messages: list[Message] = [
        (topics[e["type"].partition(".")[0]], None, routing(e), orjson.dumps(e), []) for e in events
    ]
    await sender.send_batch(messages)
    tally.add(events)
    if progress is not None:
        progress(tally)


def write_jsonl(out: IO[bytes], plan: Plan, now_ms: int | None = None) -> Tally:
    """Write `plan`'s traffic as JSON Lines (for `pulse produce`), ending now: no pacing.

    The simulated time runs from now − duration (or now − count / rate) to now, so the
    events replayed at once land in the current windows.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    if plan.duration_s is not None:
        span_ms = int(plan.duration_s * 1000)
    else:  # enough ticks for the count at the steady rate, one more for the rounding of the carry
        span_ms = (math.ceil((plan.count or 0) * 1000 / plan.rate / TICK_MS) + 1) * TICK_MS
    start_ms = now_ms - span_ms
    tally = Tally(plan)
    traffic = Traffic(plan.seed, start_ms, plan.scenario, plan.scenario_at_s, plan.families)
    for tick_ms, events in _limited(plan, timeline(traffic, start_ms, plan.rate, TICK_MS), start_ms):
        if tick_ms > now_ms:
            break
        out.write(b"".join(orjson.dumps(e) + b"\n" for e in events))
        tally.add(events)
    return tally


class ProgressBar:
    """Progress on a terminal: one line redrawn with a carriage return, at most 4 times a second.

    On a pipe or a log file it writes a plain line every 10 s instead. Sample:
    `pulse simulate [##########----------]  50%  5,000/10,000 events  1,000/s  0:05  steady`
    """

    WIDTH = 24

    def __init__(self, stream: IO[str] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._every_s = 0.25 if self._tty else 10.0
        self._clock = clock
        self._last = -1e9
        self._width = 0

    def __call__(self, tally: Tally) -> None:
        now = self._clock()
        if now - self._last < self._every_s:
            return
        self._last = now
        self._write(self.line(tally, now - tally.started_s))

    def line(self, tally: Tally, elapsed_s: float) -> str:
        plan, sent = tally.plan, tally.sent
        fraction = None
        if plan.count is not None:
            fraction = sent / plan.count if plan.count else 1.0
        if plan.duration_s is not None:
            by_time = tally.sim_elapsed_s / plan.duration_s if plan.duration_s else 1.0
            fraction = by_time if fraction is None else max(fraction, by_time)
        rate = sent / elapsed_s if elapsed_s > 0 else 0.0
        parts = ["pulse simulate"]
        if fraction is not None:
            done = round(min(fraction, 1.0) * self.WIDTH)
            parts[0] += f" [{'#' * done}{'-' * (self.WIDTH - done)}] {min(fraction, 1.0):4.0%}"
        total = f"/{plan.count:,}" if plan.count is not None else ""
        parts += [f"{sent:,}{total} events", f"{rate:,.0f}/s", _clock_text(elapsed_s)]
        behind_s = elapsed_s - tally.sim_elapsed_s
        if behind_s > 2:
            parts.append(f"{behind_s:.0f} s behind (Kafka slower than the rate)")
        parts.append(_scenario(plan, tally.sim_elapsed_s))
        return "  ".join(parts)

    def close(self, tally: Tally) -> None:
        """Finish the line and print the summary."""
        elapsed_s = self._clock() - tally.started_s
        self._write(self.line(tally, elapsed_s))
        if self._tty:
            self._stream.write("\n")
        self._stream.write(f"pulse simulate: sent {tally.summary(elapsed_s)}\n")
        self._stream.flush()

    def _write(self, text: str) -> None:
        if self._tty:
            pad = max(self._width - len(text), 0)
            self._width = len(text)
            self._stream.write("\r" + text + " " * pad)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


def _clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _scenario(plan: Plan, sim_elapsed_s: float | None = None) -> str:
    """`steady`, `churn-spike`, `churn-spike from 0:30` or `churn-spike in 0:12`."""
    if plan.scenario == "steady" or plan.scenario_at_s <= 0:
        return f"scenario {plan.scenario}"
    if sim_elapsed_s is not None and sim_elapsed_s < plan.scenario_at_s:
        return f"scenario {plan.scenario} in {_clock_text(plan.scenario_at_s - sim_elapsed_s)}"
    return f"scenario {plan.scenario} from {_clock_text(plan.scenario_at_s)}"
