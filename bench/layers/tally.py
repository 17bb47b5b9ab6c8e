"""The child side of a subprocess layer: count events, write first/progress/done as JSON lines.

The parent (`bench.common.wait_report`) reads the report file; wall time and process CPU
(every thread of the child, librdkafka's included) come from the child itself, taken at its
first event, at 10 % and 90 % of `target` (the steady window the rate is measured over: no
start-up, group join or first fetches, no tail of a last partition) and at the last.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

PROGRESS_EVERY = 2000
STEADY = (0.1, 0.9)  # the rate is measured between these shares of the events


class Tally:
    """`tally.tick()` once per event handled; `tally.finished` once `target` were handled."""

    def __init__(self, report: str | None = None, target: int | None = None) -> None:
        self.report = Path(report or os.environ["BENCH_REPORT"])
        self.target = target if target is not None else int(os.environ["BENCH_COUNT"])
        self.started = time.time()
        self.n = 0
        self.finished = False
        self._marks = [(int(self.target * STEADY[0]), "p10"), (int(self.target * STEADY[1]), "p90")]

    def tick(self, n: int = 1) -> None:
        self.n += n
        if self.n == n:
            self._write("first", since_start_s=time.time() - self.started)
        while self._marks and self.n >= self._marks[0][0]:
            self._write(self._marks.pop(0)[1])
        if self.n >= self.target and not self.finished:
            self.finished = True
            self._write("done")
        elif self.n % PROGRESS_EVERY < n:
            self._write("progress")

    def _write(self, kind: str, **extra: Any) -> None:
        entry = {"kind": kind, "n": self.n, "wall": time.time(), "cpu": time.process_time(), **extra}
        with self.report.open("a") as out:
            out.write(json.dumps(entry) + "\n")
