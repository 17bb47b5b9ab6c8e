"""Scale-out: two `pulse worker` processes in one consumer group against one, on the same topic.

Both start together, so Tansu admits them in one join round (it waits the rebalance timeout
for members) and each owns half the partitions from the first fetch. Target: ≥ 1.7 × one
worker's rate on two cores — which also host Redis, Tansu and, on a shared machine, others.
"""

from __future__ import annotations

from bench.common import Context, Dataset, Result
from bench.workers import run_workers

TARGET = 1.7


def run(ctx: Context, data: Dataset) -> Result:
    return run_workers(ctx, data, 2, "pulse worker ×2 (one group), web", "pulse-two")
