"""Layer 1: a bare aiokafka consumer, getmany + orjson decode — the practical limit for Python.

One getmany returns up to `MAX_RECORDS` records, so the 10 % / 90 % marks fall on fetch
boundaries.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.common import STEADY, Context, Dataset, Result, steady_extra

TIMEOUT_S = 300.0
MAX_RECORDS = 2000  # as many as a pulse worker batch (`batch_size`); also finer 10/90 % marks


async def _consume(ctx: Context, data: Dataset) -> Result:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=ctx.bootstrap,
        client_id="pulse-bench-raw",
        group_id=None,  # no group: all partitions assigned, so no join to wait for
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for topic in data.topics() for p in range(data.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        seen, nbytes = 0, 0
        deadline = time.monotonic() + TIMEOUT_S
        wall, cpu = time.perf_counter(), time.process_time()
        marks = [int(data.count * share) for share in STEADY]
        at: list[tuple[int, float, float]] = []  # (seen, wall, cpu) at 10 % and 90 %
        while seen < data.count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"raw consumer read {seen}/{data.count} events in {TIMEOUT_S:g} s")
            batches = await consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value)
                    nbytes += len(record.value)
                seen += len(records)
            while marks and seen >= marks[0]:
                marks.pop(0)
                at.append((seen, time.perf_counter(), time.process_time()))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await consumer.stop()
    (n10, w10, c10), (n90, w90, c90) = at
    return Result(
        "raw aiokafka getmany + orjson",
        data.name,
        n90 - n10,
        w90 - w10,
        c90 - c10,
        extra={"bytes_per_event": nbytes / max(seen, 1), "first_to_last": steady_extra(seen, wall, cpu)},
    )


def run(ctx: Context, data: Dataset) -> Result:
    return asyncio.run(_consume(ctx, data))
