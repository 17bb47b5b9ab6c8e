"""`pulse top` against a real `pulse exporter` reading a real redis-server.

The events go through the worker's batch path (`classify`, `Applier`, the Redis Functions)
in-process, without Kafka: what `pulse top` shows depends only on what Redis holds.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from metrics_core.batch import Applier, Record, classify
from metrics_core.registry import family_logic
from metrics_core.routing import routing_key
from metrics_core.settings import Settings
from metrics_core.store.base import ShardId
from metrics_core.store.redis_store import RedisStore, namespace
from streams.bridge import limits_of
from streams.embedded import EmbeddedRedis
from streams.procs import free_port
from streams.top.live import LEAVE
from tests.integration.harness import log_tail, pulse_process, scrape, wait_for

pytestmark = pytest.mark.integration


def _events(now_s: int) -> dict[str, list[dict[str, Any]]]:
    """Property shop, all inside 5m: visitor a reads 3 pages in 20 s, b bounces, c reads 2 pages
    in 30 s; three e-mails are sent."""
    views = [("a", -100, "/"), ("a", -90, "/pricing"), ("a", -80, "/checkout"), ("b", -60, "/")]
    views += [("c", -50, "/"), ("c", -20, "/docs")]
    return {
        "clickstream": [
            {
                "event_id": f"pv{i}",
                "type": "clickstream.page_view",
                "timestamp": now_s + ago_s,
                "page": page,
                "anonymous_id": visitor,
                "property": "shop",
            }
            for i, (visitor, ago_s, page) in enumerate(views)
        ],
        "email": [
            {
                "event_id": f"es{i}",
                "type": "email.sent",
                "timestamp": now_s - 30,
                "message_id": f"m{i}",
                "campaign_id": "spring",
                "property": "shop",
            }
            for i in range(3)
        ],
    }


async def _apply(settings: Settings, events: dict[str, list[dict[str, Any]]]) -> None:
    assert settings.redis_url
    store = RedisStore(settings.redis_url, namespace(settings.topic_prefix))
    await store.setup()
    limits = limits_of(settings)

    async def emit(todo: Any) -> None:
        assert not todo.rejected and not todo.forwards

    try:
        for family, bodies in events.items():
            records = [Record(i, orjson.dumps(body)) for i, body in enumerate(bodies)]
            now_ms = int(time.time() * 1000)
            plan = classify(records, family, 0, 1, now_ms, limits.retention_ms, 65_536, routing_key)
            applier = Applier(store, family_logic(family), limits)
            await applier.apply(ShardId(family, 0), f"top/{family}|0", plan, emit)
    finally:
        await store.close()


@pytest.fixture
def settings(redis_server: EmbeddedRedis) -> Settings:
    return Settings(
        redis_url=redis_server.url,
        topic_prefix=f"t{uuid.uuid4().hex[:8]}.",
        windows="5m,1h",
        exporter_host="127.0.0.1",
        exporter_port=free_port(),
    )


def _top(*args: str) -> list[str]:
    return [sys.executable, "-m", "streams.cli", "top", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "80"}  # a pipe has no width: the default, made explicit


def test_top_once_shows_what_the_exporter_serves(settings: Settings, tmp_path: Path) -> None:
    asyncio.run(_apply(settings, _events(int(time.time()))))
    url = f"http://127.0.0.1:{settings.exporter_port}/metrics"
    with pulse_process("exporter", settings, tmp_path):
        wait_for(
            lambda: "pulse_up 1.0" in scrape(settings.exporter_port),
            30,
            "the exporter",
            lambda: log_tail(tmp_path),
        )
        result = subprocess.run(
            _top("--once", "--url", url, "--window", "5m", "--property", "shop"),
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("pulse top · window 5m · property shop · ")
    # 6 page views by 3 visitors; 3 sessions, b's a bounce: 1/3 with its Wilson interval
    assert lines[2] == "  page views                          6   unique visitors                     3"
    assert lines[3] == "  sessions                            3   bounce ratio        33.3 % (6.1–79.2)"
    assert lines[4] == "  session duration               16.7 s"  # (20 + 0 + 30) / 3
    assert "  sent                                3   delivered                           0" in lines
    assert "  accepted/s                          —   accepted                            9" in lines
    assert "\x1b" not in result.stdout


def test_top_once_exits_1_in_one_line_when_nothing_answers() -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    result = subprocess.run(_top("--once", "--url", url), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"pulse top: cannot reach {url} (")
    assert result.stderr.count("\n") == 1


def test_top_refreshes_until_ctrl_c_then_exits_0_without_a_traceback(
    settings: Settings, tmp_path: Path
) -> None:
    asyncio.run(_apply(settings, _events(int(time.time()))))
    env = {**_env(), "PULSE_EXPORTER_PORT": str(settings.exporter_port), "PULSE_WINDOWS": "5m,1h"}
    with pulse_process("exporter", settings, tmp_path):
        wait_for(
            lambda: "pulse_up 1.0" in scrape(settings.exporter_port),
            30,
            "the exporter",
            lambda: log_tail(tmp_path),
        )
        proc = subprocess.Popen(
            _top("--property", "shop", "--interval", "0.2"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        seen = b""
        deadline = time.monotonic() + 30
        while seen.count(b"page views") < 2 and time.monotonic() < deadline:  # two frames: a rate
            if select.select([proc.stdout], [], [], 0.5)[0]:
                seen += os.read(proc.stdout.fileno(), 65_536)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert seen.count(b"page views") >= 2, seen.decode(errors="replace")
    assert proc.returncode == 0
    assert err == b""
    assert (seen + out).decode().endswith(LEAVE)
    assert "accepted/s                        0.0" in seen.decode()  # nothing new between reads
