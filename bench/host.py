"""The machine and its processes, for the benchmarks: CPU seconds, Redis command stats, logs.

Shared by `bench/throughput.py` and the layered harness (`bench/run.py`, `bench/common.py`).
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import redis

DEBIAN_REDIS = "/usr/bin/redis-server"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int | None) -> float:
    """utime + stime of a live process, in seconds (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def commandstats(client: redis.Redis) -> dict[str, dict[str, float]]:
    return {name.removeprefix("cmdstat_"): stats for name, stats in client.info("commandstats").items()}  # type: ignore[union-attr]


def tail(path: Path, size: int = 4000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return "(no log)"
    return data[-size:].decode("utf-8", "replace").strip() or "(empty log)"


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


@contextlib.contextmanager
def cleanup_guard(stack: ExitStack) -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C; once cleanup starts, further signals cannot cut it short."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    stack.callback(lambda: [signal.signal(sig, h) for sig, h in handlers.items()])  # runs last
    try:
        yield
    finally:  # before the stack stops the servers and children
        for sig in handlers:
            signal.signal(sig, signal.SIG_IGN)
