"""Layer 4: Quix Streams (bench-only extra) — a tumbling 1-minute count per key into its own state.

The peer's idiomatic shape: JSON deserializer, event time from the payload's `timestamp`,
`tumbling_window(60 s, grace 5 min).count().current()` into RocksDB with its changelog
topic (Quix's default, created by Quix on Tansu). Each event updates one window; the child
counts the rows that come out. The grace period matters: the events are out of order by up
to ~100 s (visits interleave), and with none Quix drops the late ones as closed windows
(Pulse counts them, within its retention). This file is also the child app (`python bench/layers/quix.py`).
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # the child
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import Context, Dataset, Result, child_env, child_result, spawn, wait_report
from bench.layers.tally import Tally
from streams.procs import stop_process

LAYER = "Quix Streams tumbling 1m count"
TIMEOUT_S = 900.0
WINDOW_MS = 60_000
GRACE_MS = 300_000  # the data set is out of order by up to ~100 s; Pulse takes late events too


def available() -> bool:
    try:
        import quixstreams  # noqa: F401
    except ImportError:
        return False
    return True


def run(ctx: Context, data: Dataset) -> Result:
    name = f"quix-{data.name}"
    report = ctx.logdir / f"{name}.report"
    env = child_env(
        {
            "BENCH_REPORT": str(report),
            "BENCH_COUNT": str(data.count),
            "BENCH_BOOTSTRAP": ctx.bootstrap,
            "BENCH_TOPICS": ",".join(data.topics()),
            "BENCH_GROUP": f"bench-{name}-{uuid.uuid4().hex[:6]}",
            "BENCH_STATE_DIR": tempfile.mkdtemp(prefix="quix-", dir=ctx.logdir),
        }
    )
    proc = spawn(ctx, [sys.executable, str(Path(__file__))], env, name)
    try:
        found = wait_report(ctx, proc, report, name, TIMEOUT_S)
    finally:
        stop_process(proc, 10.0)
    import quixstreams

    return child_result(LAYER, data, found, quixstreams_version=quixstreams.__version__)


def _event_time(value: Any, headers: Any, timestamp: float, timestamp_type: Any) -> int:
    return int(float(value["timestamp"]) * 1000)


def main() -> None:
    import logging
    import os

    from quixstreams import Application

    tally = Tally()
    app = Application(
        broker_address=os.environ["BENCH_BOOTSTRAP"],
        consumer_group=os.environ["BENCH_GROUP"],
        auto_offset_reset="earliest",
        state_dir=os.environ["BENCH_STATE_DIR"],
        loglevel=logging.WARNING,
    )
    topics = os.environ["BENCH_TOPICS"].split(",")
    if len(topics) != 1:
        raise SystemExit("the Quix layer reads one topic")
    topic = app.topic(topics[0], value_deserializer="json", timestamp_extractor=_event_time)
    sdf = app.dataframe(topic)
    sdf = sdf.tumbling_window(WINDOW_MS, grace_ms=GRACE_MS).count().current()

    def seen(row: Any) -> None:
        tally.tick()
        if tally.finished:
            app.stop()

    sdf = sdf.update(seen)  # registered with the app: app.run() runs it
    app.run()


if __name__ == "__main__":
    main()
