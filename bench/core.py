"""The worker's per-batch core in-process, stage by stage: no Kafka, no Redis, no Faust.

    .venv/bin/python bench/core.py                       # 100 000 web events, 2 000 per batch
    .venv/bin/python bench/core.py --events 200000 --batch 1000

The same seeded clickstream events as `bench/throughput.py`, split over 4 partitions by
routing key and fed to the batch path in batches of one partition, the way the bridge does:
`classify` (decode, validate, route), `dedup_keys`, the family's `state_keys`, the compute
step (de-duplication, the family, spreading over tiers, pipeline counts) and the Redis
commit payload. Snapshots and commits go to the in-memory store and are left out of the
total. Prints µs per event for each stage; compare two trees with `TREE=/path/to/checkout`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("TREE") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from bench.throughput import make_events  # noqa: E402
from metrics_core.batch import Applier, Record, classify  # noqa: E402
from metrics_core.families.web import WebFamily  # noqa: E402
from metrics_core.labels import LabelCap  # noqa: E402
from metrics_core.routing import partition_for, routing_key  # noqa: E402
from metrics_core.settings import Settings  # noqa: E402
from metrics_core.store.base import ShardId, dedup_keys  # noqa: E402
from metrics_core.store.memory import MemoryStore  # noqa: E402
from metrics_core.store.redis_store import _payload  # noqa: E402
from streams.bridge import limits_of  # noqa: E402
from streams.simulation.mix import routing  # noqa: E402
from streams.worker import GC_GEN0_THRESHOLD  # noqa: E402

PARTITIONS = 4
STAGES = ("classify", "dedup_keys", "state_keys", "compute", "payload")


async def run(values_by_partition: dict[int, list[bytes]], batch: int, now_ms: int) -> dict[str, float]:
    settings = Settings()
    limits = limits_of(settings)
    family = WebFamily()
    store = MemoryStore()
    applier = Applier(store, family, limits)
    seconds = dict.fromkeys(STAGES, 0.0)
    clock = time.perf_counter
    for partition, values in values_by_partition.items():
        shard = ShardId(family.name, partition)
        await store.register(shard)
        for start in range(0, len(values), batch):
            records = [Record(start + i, value) for i, value in enumerate(values[start : start + batch])]
            t0 = clock()
            plan = classify(
                records,
                family.name,
                partition,
                PARTITIONS,
                now_ms,
                settings.retention_ms,
                settings.max_event_bytes,
                routing_key,
            )
            t1 = clock()
            fp_of = dedup_keys(plan.events)
            t2 = clock()
            keys = sorted(family.state_keys([e for _, e in plan.events]))
            t3 = clock()
            snap = await store.snapshot(shard, "bench", list(fp_of.values()), keys, None)
            labels = LabelCap.load(limits.label_cap, snap.labels or {})
            t4 = clock()
            # the compute step of Applier.apply, timed apart from the store's calls
            commit, _ = applier._compute(
                plan, fp_of, snap.seen, snap.states, snap.version, "bench", labels, now_ms, shard, {}
            )
            t5 = clock()
            _payload(commit)
            t6 = clock()
            await store.commit(shard, commit)
            for stage, took in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t5 - t4, t6 - t5), strict=True):
                seconds[stage] += took
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2_000, help="events per batch (PULSE_BATCH_SIZE)")
    args = parser.parse_args()
    gc.set_threshold(GC_GEN0_THRESHOLD)  # as in `pulse worker`
    by_partition: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    for event in make_events(args.events):
        by_partition[partition_for(routing(event).decode(), PARTITIONS)].append(orjson.dumps(event))
    seconds = asyncio.run(run(by_partition, args.batch, int(time.time() * 1000) + 1000))
    print(f"{args.events} web events, {args.batch} per batch, tree {ROOT}")
    for stage, took in seconds.items():
        print(f"{stage:<12} {took / args.events * 1e6:6.2f} µs/event")
    print(f"{'total':<12} {sum(seconds.values()) / args.events * 1e6:6.2f} µs/event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
