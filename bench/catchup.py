"""Catch-up after an outage: the worker is stopped while traffic goes on, then restarted.

An open-loop producer sends web traffic at a fixed rate the whole time. Once the worker is
live (lag under one second of traffic), it is stopped (SIGTERM) for the outage, then started
again; we time, from the restart: the first new event applied (group join), the backlog
present at the restart drained, and the lag back under one second of traffic ("caught up").
Lag = events acknowledged by Kafka − events the worker has processed (its Redis counters).
Full mode: a 5-minute outage; quick mode scales it down (the report says which).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import redis

from bench.common import RETENTION_MS, Context, used_memory
from bench.openloop import OpenLoop
from bench.workers import Progress, pulse_settings, start
from streams.commands import topic_plan
from streams.kafka_admin import ensure_topics
from streams.procs import stop_process

POLL_S = 0.1
LIVE_LAG_S = 1.0  # lag under this much traffic counts as live
LIVE_TIMEOUT_S = 120.0
BUDGET_PER_OUTAGE_S = 6.0  # catching up at 1.25 × the traffic rate takes 4 × the outage


async def _produce_until(
    loop: OpenLoop, progress: Progress, worker: Any, done: Callable[[int, int], bool], timeout_s: float
) -> float | None:
    """Produce until `done(acked, processed)`; when (perf_counter), or None after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    next_poll = [0.0]
    when = [0.0]

    async def check() -> bool:
        if worker.poll() is not None:
            raise RuntimeError(f"pulse worker exited with code {worker.returncode}")
        if time.monotonic() > deadline:
            return True
        if time.monotonic() < next_poll[0]:
            return False
        next_poll[0] = time.monotonic() + POLL_S
        acked = loop.acked
        if done(acked, await asyncio.to_thread(progress.processed)):
            when[0] = time.perf_counter()
            return True
        return False

    await loop.run(timeout_s + 1, check)
    return when[0] or None


async def _measure(ctx: Context, rate: float, outage_s: float) -> dict[str, Any]:
    settings = pulse_settings(ctx, f"bench{uuid.uuid4().hex[:6]}-", "catchup")
    assert settings.redis_url
    await ensure_topics(ctx.bootstrap, topic_plan(settings), retention_ms=RETENTION_MS)
    client = redis.Redis.from_url(settings.redis_url)
    progress = Progress.of(client, settings, ("clickstream",))
    live = rate * LIVE_LAG_S
    memory0 = used_memory(client)
    worker = start(ctx, settings, "worker", "catchup-worker")
    try:
        async with OpenLoop(ctx.bootstrap, settings.topic("clickstream"), rate, settings.partitions) as loop:
            was_live = await _produce_until(loop, progress, worker, lambda a, p: a - p < live, LIVE_TIMEOUT_S)
            await asyncio.to_thread(stop_process, worker, 10.0)
            t_stop = time.perf_counter()
            await loop.run(outage_s)
            await loop.flush()
            backlog_target = loop.acked
            processed_at_restart = await asyncio.to_thread(progress.processed)
            t_restart = time.perf_counter()
            worker = start(ctx, settings, "worker", "catchup-worker")
            budget = 120.0 + BUDGET_PER_OUTAGE_S * outage_s  # for the three phases together

            def left() -> float:
                return max(0.0, t_restart + budget - time.perf_counter())

            t_join = await _produce_until(
                loop, progress, worker, lambda a, p: p > processed_at_restart, left()
            )
            t_drained = t_live = None
            if t_join is not None:
                t_drained = await _produce_until(
                    loop, progress, worker, lambda a, p: p >= backlog_target, left()
                )
            if t_drained is not None:
                t_live = await _produce_until(loop, progress, worker, lambda a, p: a - p < live, left())
            t_end = time.perf_counter()
            processed_end = await asyncio.to_thread(progress.processed)
            lag_end = loop.acked - processed_end
            achieved = loop.achieved_rate
    finally:
        stop_process(worker, 5.0)
    memory = used_memory(client) - memory0
    client.close()
    rate_up = (processed_end - processed_at_restart) / max(t_end - (t_join or t_restart), 1e-9)
    estimate = None
    if t_live is not None:
        estimate = t_live - t_restart
    elif rate_up > achieved:  # not there yet: at the net drain rate, the rest takes lag / (up − in)
        estimate = t_end - t_restart + max(0.0, lag_end - live) / (rate_up - achieved)

    def since_restart(t: float | None) -> float | None:
        return None if t is None else t - t_restart

    return {
        "rate": rate,
        "achieved_rate": achieved,
        "live_before_outage": was_live is not None,
        "outage_s": t_restart - t_stop,
        "backlog_events": backlog_target - processed_at_restart,
        "join_delay_s": since_restart(t_join),
        "drain_s": since_restart(t_drained),
        "catch_up_s": since_restart(t_live),  # None: not caught up within the budget
        "budget_s": budget,
        "catch_up_rate": rate_up,
        "catch_up_estimate_s": estimate,  # measured, or extrapolated when the budget ran out
        "lag_at_end_events": lag_end,
        "live_lag_events": live,
        "events_processed": processed_end,
        "used_memory_delta_bytes": memory,  # its own Redis database: every event of the run
    }


def run(ctx: Context, rate: float, outage_s: float) -> dict[str, Any]:
    print(f"bench: catch-up after a {outage_s:g} s outage at {rate:,.0f} events/s", flush=True)
    result = asyncio.run(_measure(ctx, rate, outage_s))
    result["full_outage_s"] = 300.0
    result["scaled_down"] = outage_s < 300.0
    return result
