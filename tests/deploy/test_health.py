"""Health endpoints: the worker's progress verdict and its HTTP server, the exporter's /healthz."""

from __future__ import annotations

import doctest
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace

import orjson
import pytest
from prometheus_client import CollectorRegistry, Gauge

from deploy import rules
from metrics_core.registry import family_logic
from metrics_core.settings import Settings
from metrics_core.store.memory import MemoryStore
from streams import health
from streams.bridge import FamilyBridge, Source
from streams.exporter import make_app, serve
from streams.health import Progress, serve_health
from streams.procs import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_idle_worker_is_healthy(clock: Clock) -> None:
    progress = Progress(30, highwater=lambda t, p: 10, clock=clock)
    progress.consumed("survey")
    progress.applied("survey", 0, offset=9, highwater=10)
    progress.done("survey")
    clock.now += 3600
    assert progress.verdict().healthy


def test_a_batch_that_waits_too_long_is_unhealthy_and_retries_keep_its_age(clock: Clock) -> None:
    progress = Progress(30, clock=clock)
    progress.consumed("email")
    clock.now += 20
    progress.consumed("email")  # a retry of the same batch (Redis away)
    assert progress.verdict().healthy
    clock.now += 11
    verdict = progress.verdict()
    assert not verdict.healthy and verdict.reason == "email: a batch consumed 31 s ago is not applied yet"
    progress.done("email")
    assert progress.verdict().healthy


def test_records_newer_than_the_last_batch_with_no_progress_is_unhealthy(clock: Clock) -> None:
    highwater = {("survey", 1): 10}
    progress = Progress(30, highwater=lambda t, p: highwater[(t, p)], clock=clock)
    progress.applied("survey", 1, offset=9, highwater=10)
    highwater[("survey", 1)] = 15  # five new records arrive; the worker does not take them
    clock.now += 100  # long idle before: the clock of "behind" starts when it is first seen
    assert progress.verdict().healthy
    clock.now += 31
    verdict = progress.verdict()
    assert verdict.reason == "survey[1]: 5 record(s) behind and no batch applied for 31 s"
    progress.applied("survey", 1, offset=14, highwater=15)  # it catches up
    assert progress.verdict().healthy


def test_a_trailing_marker_that_is_never_consumed_is_not_lag(clock: Clock) -> None:
    """A transaction marker after the last record: the high watermark stays one past it forever."""
    progress = Progress(30, highwater=lambda t, p: 11, clock=clock)
    progress.applied("customer", 0, offset=9, highwater=11)
    clock.now += 3600
    assert progress.verdict().healthy


def test_unknown_high_watermark_is_no_evidence(clock: Clock) -> None:
    progress = Progress(30, highwater=lambda t, p: None, clock=clock)
    progress.applied("web", 0, offset=9, highwater=None)
    clock.now += 3600
    assert progress.verdict().healthy


async def test_bridge_records_progress_per_applied_batch(clock: Clock) -> None:
    settings = Settings(windows="5m,1h")
    progress = Progress(30, highwater=lambda t, p: 100, clock=clock)

    class Sender:
        async def send_batch(self, messages: object) -> None:
            pass

    bridge = FamilyBridge(
        settings,
        family_logic("survey"),
        MemoryStore(),
        Sender(),
        {"survey": Source("survey", "survey@1", rekey=False)},
        partitions=1,
        highwater=lambda t, p: 100,
        progress=progress,
    )
    event = {
        "event_id": "e1",
        "type": "survey.csat",
        "timestamp": 1_700_000_000,
        "response_id": "r1",
        "score": 5,
    }
    message = SimpleNamespace(topic="survey", partition=0, offset=99, key=b"r1", value=orjson.dumps(event))
    await bridge.handle([message])
    clock.now += 3600
    assert progress.verdict().healthy  # applied up to 99, high watermark 100: nothing behind


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def health_port() -> Iterator[int]:
    yield free_port()


def test_worker_health_server_answers_200_then_503(clock: Clock, health_port: int) -> None:
    progress = Progress(30, clock=clock)
    server = serve_health(progress, "127.0.0.1", health_port)
    assert server is not None
    try:
        status, body = _get(f"http://127.0.0.1:{health_port}/healthz")
        assert (status, orjson.loads(body)) == (200, {"status": "ok", "reason": "making progress"})
        progress.consumed("social")
        clock.now += 31
        status, body = _get(f"http://127.0.0.1:{health_port}/healthz")
        assert status == 503 and orjson.loads(body)["status"] == "stalled"
        assert _get(f"http://127.0.0.1:{health_port}/metrics")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_health_server_disabled_or_port_taken(health_port: int, caplog: pytest.LogCaptureFixture) -> None:
    assert serve_health(Progress(30), "127.0.0.1", 0) is None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", health_port))
        taken.listen()
        with caplog.at_level(logging.ERROR):
            assert serve_health(Progress(30), "127.0.0.1", health_port) is None
    assert "cannot bind" in caplog.text


def test_exporter_healthz_follows_redis_and_metrics_still_serve() -> None:
    registry = CollectorRegistry()
    Gauge("pulse_test_gauge", "a gauge", registry=registry).set(1)
    answers = [True]
    port = free_port()
    server, thread = serve(make_app(registry, lambda: answers[0]), "127.0.0.1", port)
    try:
        assert _get(f"http://127.0.0.1:{port}/healthz") == (200, b"ok\n")
        answers[0] = False
        assert _get(f"http://127.0.0.1:{port}/healthz") == (503, b"redis does not answer\n")
        assert _get(f"http://127.0.0.1:{port}/livez") == (200, b"ok\n")
        status, body = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and b"pulse_test_gauge 1.0" in body
    finally:
        server.shutdown()
        thread.join(5)


def test_doctests_of_modules_outside_the_doctest_paths() -> None:
    """streams/ and deploy/ are not collected by --doctest-modules; their examples run here."""
    for module in (health, rules):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
