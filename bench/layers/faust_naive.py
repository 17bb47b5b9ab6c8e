"""Layer 3: what a user would write first — a Faust agent doing one Redis HINCRBY per event.

Each event is decoded and counted into a per-minute hash per property (`naive:{property}:
{minute}`, field = event type) with one awaited HINCRBY: one Redis round trip per event,
no batching, no de-duplication, no offset fence. This file is also the child app.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":  # the child: python bench/layers/faust_naive.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import Context, Dataset, Result, calls_between, command_calls, round_trips
from bench.layers import faust_common

LAYER = "Faust agent, HINCRBY per event"


def run(ctx: Context, data: Dataset) -> Result:
    url = ctx.new_db()
    client = ctx.client(url)
    before = command_calls(client)
    report = faust_common.run_child(ctx, data, "faust_naive.py", LAYER, {"BENCH_REDIS_URL": url})
    calls = calls_between(before, command_calls(client), {})
    result = faust_common.result(
        LAYER,
        data,
        report,
        redis_calls_by_command=calls,
        redis_commands_per_event=sum(calls.values()) / data.count,
    )
    result.redis_calls_per_event = round_trips(calls) / data.count
    return result


def main() -> None:
    import os

    import orjson
    import redis.asyncio as aioredis

    app, topic, tally = faust_common.app_from_env()
    client = aioredis.Redis.from_url(os.environ["BENCH_REDIS_URL"])

    @app.agent(topic, name="bench.naive")  # type: ignore[untyped-decorator]  # faust ships no types
    async def naive(stream: object) -> None:
        async for value in stream:  # type: ignore[attr-defined]
            event = orjson.loads(value)
            minute = int(float(event["timestamp"])) // 60 * 60
            await client.hincrby(f"naive:{event.get('property', 'default')}:{minute}", event["type"], 1)
            tally.tick()

    faust_common.work(app)


if __name__ == "__main__":
    main()
