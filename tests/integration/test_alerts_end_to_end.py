"""A real alert end to end: survey events through real Tansu, `pulse worker`, Redis and `pulse
exporter`, scraped by a real Prometheus running the shipped configuration and rules; a healthy
stream fires nothing, a CSAT drop fires PulseCSATDropping, seen through Prometheus's HTTP API.

The rules are the shipped ones with two test-only changes (deploy/rules.py `fast_copy`): every
`for:` is at most 2 s, and the windows 1h and 7d read as 1m and 5m (the worker runs with
PULSE_WINDOWS=1m,5m), so the alert reacts in seconds. Prometheus scrapes and evaluates every second.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from deploy.rules import DEPLOY, fast_config, fast_copy, load_groups
from metrics_core.settings import Settings
from streams.commands import create_topics
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.procs import free_port, stop_process, wait_for_port
from tests.integration.harness import log_tail, pulse_process, samples, scrape, value, wait_for

pytestmark = pytest.mark.integration

WINDOWS = {"1h": "1m", "7d": "5m"}  # production window -> the test's
# Batch latency depends on the machine (a loaded CI runner), not on the stream's health.
MACHINE_DEPENDENT = {"PulseBatchApplySlow"}
SHOP = {"property": "shop", "survey": "support"}


@pytest.fixture
def prometheus_binary() -> str:
    """Path of the prometheus server; a missing one fails the test, it never skips it."""
    path = shutil.which("prometheus")
    if path is None:
        pytest.fail(
            "prometheus not found on PATH: run `make tools` (Debian's `prometheus` package)", pytrace=False
        )
    return path


@pytest.fixture
def prometheus(prometheus_binary: str, tmp_path: Path) -> Iterator[Any]:
    """A factory: `prometheus(exporter_port)` starts a real Prometheus on the shipped config and rules."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(exporter_port: int) -> str:
        rules = tmp_path / "rules.yml"
        rules.write_text(yaml.safe_dump(fast_copy(load_groups(), 2, WINDOWS), sort_keys=False))
        shipped = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(fast_config(shipped, f"127.0.0.1:{exporter_port}", str(rules))))
        port = free_port()
        with (tmp_path / "prometheus.log").open("wb") as log:
            proc = subprocess.Popen(
                [
                    prometheus_binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(proc)
        wait_for_port("127.0.0.1", port, 60, proc)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _get(f"{url}/-/ready")[0] == 200, 60, "Prometheus ready")
        return url

    yield start
    for proc in procs:
        stop_process(proc)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _api(url: str, path: str) -> Any:
    status, body = _get(f"{url}/api/v1/{path}")
    assert status == 200, body
    return json.loads(body)["data"]


def _alerts(url: str) -> list[dict[str, Any]]:
    """Every alert pending or firing now."""
    return list(_api(url, "alerts")["alerts"])


def _csat(eid: str, ago_s: float, score: int, now_s: float) -> dict[str, Any]:
    return {
        "event_id": eid,
        "type": "survey.csat",
        "timestamp": round(now_s - ago_s, 3),
        "property": "shop",
        "survey_id": "support",
        "response_id": eid,
        "score": score,
    }


async def _produce(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(topic, orjson.dumps(event), key=event["response_id"].encode())
    finally:
        await producer.stop()


def healthy_answers(now_s: float) -> list[dict[str, Any]]:
    """280 answers: 240 in the 5m window only (95 % top-2-box), 40 in the last minute (90 %)."""
    week = [_csat(f"b{i}", 65 + i % 90, 2 if i % 20 == 0 else 5, now_s) for i in range(240)]
    hour = [_csat(f"h{i}", 5 + i % 20, 3 if i % 10 == 0 else 5, now_s) for i in range(40)]
    return week + hour


def dropping_answers(now_s: float) -> list[dict[str, Any]]:
    """60 answers in the last seconds, 20 % top-2-box: the 1m window falls to about half."""
    return [_csat(f"d{i}", 1 + i % 10, 5 if i % 5 == 0 else 1, now_s) for i in range(60)]


def _only(alerts: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [a for a in alerts if a["labels"]["alertname"] == name]


def test_csat_drop_fires_and_a_healthy_stream_fires_nothing(
    kafka: EmbeddedKafka,
    redis_server: EmbeddedRedis,
    topic_prefix: str,
    tmp_path: Path,
    prometheus: Any,
) -> None:
    port, health_port = free_port(), free_port()
    settings = Settings(
        kafka_url=kafka.url,
        redis_url=redis_server.url,
        topic_prefix=topic_prefix,
        app_id=f"pulse-{topic_prefix}",
        partitions=2,
        windows=",".join(WINDOWS.values()),
        exporter_host="127.0.0.1",
        exporter_port=port,
        worker_health_host="127.0.0.1",
        worker_health_port=health_port,
        rebalance_timeout_s=3.0,
        batch_within_s=0.05,
    )
    asyncio.run(create_topics(settings))
    topic = settings.topic("survey")
    logs = lambda: log_tail(tmp_path)  # noqa: E731

    with pulse_process("exporter", settings, tmp_path), pulse_process("worker", settings, tmp_path):
        url = prometheus(port)
        wait_for(lambda: _get(f"http://127.0.0.1:{health_port}/healthz")[0] == 200, 90, "the worker", logs)
        assert _get(f"http://127.0.0.1:{port}/healthz") == (200, b"ok\n")

        # --- a healthy stream: CSAT steady around 94 %, with plenty of evidence
        asyncio.run(_produce(kafka.bootstrap, topic, healthy_answers(time.time())))
        five = {"window": "5m", **SHOP}
        wait_for(
            lambda: value(samples(scrape(port)), "pulse_csat_responses", **five) == 280,
            60,
            "280 answers",
            logs,
        )
        query = 'pulse_csat_ratio_sample_size{window="5m",survey="support"}'
        wait_for(
            lambda: (
                [r["value"][1] for r in _api(url, f"query?query={urllib.parse.quote(query)}")["result"]]
                == ["280"]
            ),
            30,
            "Prometheus to scrape the answers",
            logs,
        )
        time.sleep(5)  # five evaluations of every rule on the healthy data
        quiet = [a for a in _alerts(url) if a["labels"]["alertname"] not in MACHINE_DEPENDENT]
        assert quiet == [], f"a healthy stream fired: {quiet}"
        broken = [r for g in _api(url, "rules")["groups"] for r in g["rules"] if r["health"] != "ok"]
        assert broken == [], f"rules that fail to evaluate: {broken}"

        # --- CSAT drops: 60 unhappy answers in the last seconds
        asyncio.run(_produce(kafka.bootstrap, topic, dropping_answers(time.time())))
        wait_for(
            lambda: bool(_only(_alerts(url), "PulseCSATDropping")), 60, "PulseCSATDropping pending", logs
        )
        wait_for(
            lambda: [a["state"] for a in _only(_alerts(url), "PulseCSATDropping")] == ["firing"],
            30,
            "PulseCSATDropping firing",
            logs,
        )
        (alert,) = _only(_alerts(url), "PulseCSATDropping")
        assert _get(f"http://127.0.0.1:{health_port}/healthz")[0] == 200  # the worker kept up
        others = [
            a["labels"]["alertname"]
            for a in _alerts(url)
            if a["labels"]["alertname"] not in MACHINE_DEPENDENT | {"PulseCSATDropping"}
        ]

    labels = alert["labels"]
    assert {k: labels[k] for k in ("property", "survey", "window", "severity")} == {
        **SHOP,
        "window": "1m",
        "severity": "warning",
    }
    assert 0.3 < float(alert["value"]) < 0.6  # the last minute's CSAT: about 48 of 100 answers
    assert alert["annotations"]["runbook_url"].endswith("docs/runbooks/survey.md#pulsecsatdropping")
    assert others == []
