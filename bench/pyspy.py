"""py-spy around a child process: record its stacks (raw, collapsed), then the hot spots.

profiler = start_profiler(pid, Path("/tmp/worker.txt"), stack)
...                                    # the measured run
finish_profiler(profiler)              # SIGINT: py-spy writes its output
hot_spots(Path("/tmp/worker.txt"))     # own and inclusive samples per function
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from streams.procs import stop_process

ROOT = Path(__file__).resolve().parent.parent


def start_profiler(pid: int, out: Path, stack: ExitStack) -> subprocess.Popen[bytes] | None:
    pyspy = Path(sys.executable).parent / "py-spy"
    if not pyspy.exists():
        print(f"bench: no {pyspy}; `.venv/bin/pip install py-spy` to profile", file=sys.stderr)
        return None
    log = out.with_suffix(out.suffix + ".log")
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                str(pyspy),
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--nolineno",
                "--rate",
                "200",
                "--nonblocking",
                "-o",
                str(out),
            ],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack.callback(stop_process, proc, 10.0)
    return proc


def finish_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGINT makes py-spy write its output and exit."""
    if proc is None or proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*)\)$")


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['func']} ({path})"


_RECORD = re.compile(r"^(.+?) (\d+)$", re.M | re.S)  # frame names can hold newlines (docstrings)


def hot_spots(raw: Path, top: int = 25) -> dict[str, Any]:
    """Own and inclusive sample counts per function from py-spy's raw (collapsed) output."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for match in _RECORD.finditer(raw.read_text()):
        frames = [" ".join(f.split()) for f in match[1].split(";")]
        n = int(match[2])
        frames = [_short(f) for f in frames]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n

    def shares(counter: Counter[str]) -> list[tuple[str, int, float]]:
        return [(f, n, n / total) for f, n in counter.most_common(top)] if total else []

    return {"samples": total, "own": shares(own), "inclusive": shares(inclusive)}
