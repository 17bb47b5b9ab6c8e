"""Worker liveness by progress, not by an open port: GET /healthz answers 503 once the worker is stuck.

Stuck means one of two things, each lasting longer than `stall_s`:

- a batch was handed to a family's bridge and is still not applied (Redis away, a wedged call,
  an agent that died mid-batch: the retry loop keeps the batch, so it only grows older);
- a partition has records newer than the ones the worker last applied (its high watermark
  moved past the one seen at that batch), yet no batch of it was applied since.

An idle worker stays healthy: no pending batch, and no partition with newer records.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

log = logging.getLogger(__name__)

TP = tuple[str, int]  # (topic, partition)
Highwater = Callable[[str, int], int | None]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer of /healthz: healthy or not, and why in one sentence."""

    healthy: bool
    reason: str


@dataclass(slots=True)
class _Partition:
    offset: int  # the last applied offset
    baseline: int  # the high watermark when that batch was taken (or offset + 1 when unknown)
    applied_at: float
    behind_since: float | None = None  # first seen with records past the baseline


class Progress:
    """What the worker consumed and applied; written by the event loop, read by the health thread.

    >>> now = [0.0]
    >>> progress = Progress(stall_s=30, highwater=lambda topic, partition: 12, clock=lambda: now[0])
    >>> progress.consumed("survey")
    >>> now[0] = 31.0
    >>> progress.verdict().reason
    'survey: a batch consumed 31 s ago is not applied yet'
    >>> progress.applied("survey", 0, offset=9, highwater=10)
    >>> progress.done("survey")
    >>> progress.verdict().healthy  # records 10 and 11 are new, but only just seen
    True
    >>> now[0] = 62.0
    >>> progress.verdict().reason
    'survey[0]: 2 record(s) behind and no batch applied for 31 s'
    """

    def __init__(
        self,
        stall_s: float,
        highwater: Highwater = lambda topic, partition: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stall_s = stall_s
        self._highwater = highwater
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, float] = {}  # family -> when its oldest unapplied batch arrived
        self._partitions: dict[TP, _Partition] = {}

    def consumed(self, family: str) -> None:
        """A batch reached the family's bridge. A retry of the same batch keeps the first time."""
        with self._lock:
            self._pending.setdefault(family, self._clock())

    def applied(self, topic: str, partition: int, offset: int, highwater: int | None) -> None:
        """One partition's share of a batch is in Redis, up to `offset`; `highwater` from before it."""
        with self._lock:
            baseline = max(offset + 1, highwater or 0)
            self._partitions[(topic, partition)] = _Partition(offset, baseline, self._clock())

    def done(self, family: str) -> None:
        """The family's batch is applied whole."""
        with self._lock:
            self._pending.pop(family, None)

    def verdict(self) -> Verdict:
        """Healthy unless some work has waited longer than `stall_s`."""
        with self._lock:
            now = self._clock()
            for family, since in sorted(self._pending.items()):
                if now - since > self._stall_s:
                    return Verdict(
                        False, f"{family}: a batch consumed {now - since:.0f} s ago is not applied yet"
                    )
            for (topic, partition), state in sorted(self._partitions.items()):
                stuck = self._behind(topic, partition, state, now)
                if stuck is not None:
                    return Verdict(False, stuck)
        return Verdict(True, "making progress")

    def _behind(self, topic: str, partition: int, state: _Partition, now: float) -> str | None:
        highwater = self._highwater(topic, partition)
        if highwater is None or highwater <= state.baseline:
            state.behind_since = None
            return None
        if state.behind_since is None:
            state.behind_since = now
        waited = now - max(state.behind_since, state.applied_at)
        if waited <= self._stall_s:
            return None
        lag = highwater - state.offset - 1
        return f"{topic}[{partition}]: {lag} record(s) behind and no batch applied for {waited:.0f} s"


def _handler(progress: Progress) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/healthz":
                self._answer(404, {"error": "not found; try GET /healthz"})
                return
            verdict = progress.verdict()
            body = {"status": "ok" if verdict.healthy else "stalled", "reason": verdict.reason}
            self._answer(200 if verdict.healthy else 503, body)

        def _answer(self, status: int, body: dict[str, str]) -> None:
            data = orjson.dumps(body) + b"\n"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # probes every few seconds would flood the worker's log

    return Handler


def serve_health(progress: Progress, host: str, port: int) -> ThreadingHTTPServer | None:
    """Serve GET /healthz in a daemon thread; None when the port is 0 or cannot be bound.

    A port that cannot be bound is logged and the worker goes on: its probe then fails,
    which is where an operator looks, while the counting itself is unaffected.
    """
    if port == 0:
        return None
    try:
        server = ThreadingHTTPServer((host, port), _handler(progress))
    except OSError as exc:
        log.error("worker health server: cannot bind %s:%d (%s); /healthz is not served", host, port, exc)
        return None
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="pulse-health", daemon=True).start()
    log.info("worker health: http://%s:%d/healthz", host, server.server_address[1])
    return server
