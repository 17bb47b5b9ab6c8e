"""What the two Faust layers share: the child's app (built from env) and the parent's runner.

The child is a plain Faust app on `kafka://` (Faust's own aiokafka driver and per-message
delivery), as a user would write it; only the agent body differs between the layers.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path
from typing import Any

from bench.common import Context, Dataset, Result, child_env, child_result, spawn, wait_report
from bench.layers.tally import Tally
from streams.procs import stop_process

REBALANCE_S = 3.0  # Tansu admits a group member only after the rebalance timeout
TIMEOUT_S = 900.0


def app_from_env() -> tuple[Any, Any, Tally]:
    """In the child: (app, topic, tally) from BENCH_* variables."""
    import faust

    app = faust.App(
        os.environ["BENCH_GROUP"],
        broker=f"kafka://{os.environ['BENCH_BOOTSTRAP']}",
        store="memory://",
        web_enabled=False,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_rebalance_timeout=REBALANCE_S,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
    )
    topic = app.topic(
        *os.environ["BENCH_TOPICS"].split(","),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    return app, topic, Tally()


def work(app: Any) -> None:
    """In the child: run the Faust worker until SIGTERM (as `pulse worker` does)."""
    import faust

    worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker.spinner = None
    worker.execute_from_commandline()


def run_child(
    ctx: Context, data: Dataset, script: str, layer: str, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run `bench/layers/<script>` as a Faust worker until it has handled every event; its tally."""
    name = f"{Path(script).stem}-{data.name}"
    report = ctx.logdir / f"{name}.report"
    env = child_env(
        {
            "BENCH_REPORT": str(report),
            "BENCH_COUNT": str(data.count),
            "BENCH_BOOTSTRAP": ctx.bootstrap,
            "BENCH_TOPICS": ",".join(data.topics()),
            "BENCH_GROUP": f"bench-{name}-{uuid.uuid4().hex[:6]}",
            **(extra_env or {}),
        }
    )
    path = Path(__file__).with_name(script)
    proc = spawn(ctx, [sys.executable, str(path)], env, name)
    try:
        return wait_report(ctx, proc, report, name, TIMEOUT_S)
    finally:
        stop_process(proc, 5.0)


def result(layer: str, data: Dataset, report: dict[str, Any], **extra: Any) -> Result:
    return child_result(layer, data, report, **extra)
