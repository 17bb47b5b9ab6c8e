"""Layer 5: `pulse worker` (batch delivery, one Redis Function call per partition batch)."""

from __future__ import annotations

from bench.common import Context, Dataset, Result
from bench.workers import run_workers


def run(ctx: Context, data: Dataset) -> Result:
    families = "web" if data.name == "web" else "mixed five-family"
    return run_workers(ctx, data, 1, f"pulse worker, {families}", f"pulse-{data.name}")
