"""Helpers for end-to-end tests: run `pulse worker`/`pulse exporter` as real processes, scrape."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from metrics_core.settings import Settings
from streams.commands import settings_env
from streams.procs import stop_process

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@contextmanager
def pulse_process(command: str, settings: Settings, log_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`pulse <command>` as a child process; its output goes to a log file shown on failure."""
    log_path = log_dir / f"{command}-{time.monotonic_ns()}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", command],
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        stop_process(proc, grace_s=5.0)


def log_tail(log_dir: Path, lines: int = 40) -> str:
    return "\n".join(
        f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:])
        for p in sorted(log_dir.glob("*.log"))
    )


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def samples(text: str) -> Samples:
    """`{(name, frozenset(labels.items())): value}` for every sample of a scrape."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def total(found: Samples, name: str, **labels: str) -> float:
    """Sum of every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and wanted <= ls)


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    on_timeout: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass  # the exporter is not up yet
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}\n{on_timeout()}")


def promtool_check(promtool: str, text: str) -> None:
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def lines(items: Iterable[bytes]) -> list[bytes]:
    return list(items)
