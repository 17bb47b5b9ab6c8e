"""The gateway end to end: `pulse gateway` → real Tansu → `pulse worker` → Redis → `pulse exporter`,
a SendGrid batch delivered twice counting once, and the 503 path with the broker stopped."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiokafka import AIOKafkaConsumer

from metrics_core.settings import Settings
from streams.commands import create_topics
from streams.embedded import EmbeddedKafka, EmbeddedRedis
from streams.gateway import build_app
from streams.procs import free_port
from tests.integration.harness import log_tail, pulse_process, samples, scrape, total, value, wait_for
from tests.unit.adapters.vendors import load

pytestmark = pytest.mark.integration

TOKEN = "integration-token"
SEGMENT_SECRET = "segment-shared-secret"


def _settings(kafka: EmbeddedKafka, redis: EmbeddedRedis, prefix: str) -> Settings:
    return Settings(
        kafka_url=kafka.url,
        redis_url=redis.url,
        topic_prefix=prefix,
        app_id=f"pulse-{prefix}",
        partitions=2,
        windows="5m,1h",
        exporter_host="127.0.0.1",
        exporter_port=free_port(),
        gateway_host="127.0.0.1",
        gateway_port=free_port(),
        gateway_token=TOKEN,
        segment_secret=SEGMENT_SECRET,
        rebalance_timeout_s=3.0,
        batch_within_s=0.05,
    )


def _post(port: int, path: str, body: bytes, content_type: str = "application/json", **headers: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        headers={"Content-Type": content_type, **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


def _healthy(port: int) -> bool:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return bool(orjson.loads(response.read())["kafka"] == "connected")


def _segment_page(message_id: str, visitor: str, path: str, ago_s: int) -> bytes:
    call = load("segment_page_analytics_js")
    call.update(messageId=message_id, anonymousId=visitor)
    call["properties"]["path"] = path
    call["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - ago_s))
    return orjson.dumps(call)


def _signed_segment(port: int, body: bytes) -> Any:
    signature = hmac.new(SEGMENT_SECRET.encode(), body, hashlib.sha1).hexdigest()
    return _post(port, "/v1/webhooks/segment?property=shop", body, **{"X-Signature": signature})


def test_segment_and_native_page_views_reach_metrics(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_prefix: str, tmp_path: Path
) -> None:
    settings = _settings(kafka, redis_server, topic_prefix)
    asyncio.run(create_topics(settings))
    logs = lambda: log_tail(tmp_path)  # noqa: E731
    gateway, exporter = settings.gateway_port, settings.exporter_port

    with (
        pulse_process("gateway", settings, tmp_path),
        pulse_process("worker", settings, tmp_path),
        pulse_process("exporter", settings, tmp_path),
    ):
        wait_for(lambda: _healthy(gateway), 30, "the gateway", logs)
        for message_id, visitor, path, ago_s in [
            ("ajs-1", "va", "/", 120),
            ("ajs-2", "va", "/pricing", 60),
            ("ajs-3", "vb", "/", 30),
        ]:
            assert _signed_segment(gateway, _segment_page(message_id, visitor, path, ago_s))[0] == 200
        identify = orjson.dumps(load("segment_identify"))
        assert _signed_segment(gateway, identify) == (
            200,
            {"accepted": 0, "rejected": [], "rejected_count": 0, "ignored": {"identify": 1}},
        )
        forged = _post(gateway, "/v1/webhooks/segment", _segment_page("ajs-x", "vx", "/", 1))
        assert forged[0] == 401
        native = {
            "event_id": "native-1",
            "type": "clickstream.page_view",
            "timestamp": int(time.time()) - 10,
            "page": "/docs",
            "anonymous_id": "vc",
            "property": "shop",
        }
        ndjson = orjson.dumps(native) + b"\n" + orjson.dumps({**native, "page": None}) + b"\n"
        status, answer = _post(
            gateway, "/v1/events", ndjson, "application/x-ndjson", Authorization=f"Bearer {TOKEN}"
        )
        assert (status, answer["accepted"], answer["rejected"][0]["reason"]) == (207, 1, "missing_field")
        assert _post(gateway, "/v1/events", orjson.dumps(native))[0] == 401

        topic = settings.topic("clickstream")
        wait_for(
            lambda: total(samples(scrape(exporter)), "pulse_events_total", topic=topic) >= 4,
            45,
            "the page views in /metrics",
            logs,
        )
        found = samples(scrape(exporter))
        gateway_metrics = samples(scrape(gateway))

    assert value(found, "pulse_events_total", topic=topic, type="clickstream.page_view") == 4
    assert value(found, "pulse_page_views", window="1h", property="shop") == 4
    assert value(found, "pulse_unique_visitors", window="1h", property="shop") == 3
    assert value(gateway_metrics, "pulse_gateway_events_total", route="segment", outcome="accepted") == 3
    assert value(gateway_metrics, "pulse_gateway_ignored_total", route="segment", kind="identify") == 1
    assert value(gateway_metrics, "pulse_gateway_requests_total", route="segment", code="401") == 1
    assert value(gateway_metrics, "pulse_gateway_requests_total", route="events", code="207") == 1


def test_a_sendgrid_batch_posted_twice_counts_once(
    kafka: EmbeddedKafka, redis_server: EmbeddedRedis, topic_prefix: str, tmp_path: Path
) -> None:
    settings = _settings(kafka, redis_server, topic_prefix)
    asyncio.run(create_topics(settings))
    logs = lambda: log_tail(tmp_path)  # noqa: E731
    gateway, exporter = settings.gateway_port, settings.exporter_port
    batch = load("sendgrid_events")
    for item in batch:
        item["timestamp"] = int(time.time()) - 60  # within the windows: the documented times are years old
    body = orjson.dumps(batch)
    topic = settings.topic("email")

    with (
        pulse_process("gateway", settings, tmp_path),
        pulse_process("worker", settings, tmp_path),
        pulse_process("exporter", settings, tmp_path),
    ):
        wait_for(lambda: _healthy(gateway), 30, "the gateway", logs)
        first = _post(gateway, f"/v1/webhooks/sendgrid?token={TOKEN}", body)
        second = _post(gateway, f"/v1/webhooks/sendgrid?token={TOKEN}", body)  # SendGrid's retry
        assert first == second
        assert first[0] == 200 and first[1]["accepted"] == 11
        wait_for(
            lambda: total(samples(scrape(exporter)), "pulse_events_duplicate_total", topic=topic) >= 11,
            45,
            "the redelivered batch to be seen as duplicates",
            logs,
        )
        time.sleep(1.0)  # anything still in flight would show up as a mismatch below
        found = samples(scrape(exporter))

    assert value(found, "pulse_events_total", topic=topic, type="email.delivered") == 1
    assert total(found, "pulse_events_total", topic=topic) == 11
    assert value(found, "pulse_events_duplicate_total", topic=topic) == 11


async def test_kafka_stopped_is_503_and_only_written_events_were_acknowledged(topic_prefix: str) -> None:
    broker = await asyncio.to_thread(EmbeddedKafka().start)
    try:
        settings = Settings(
            kafka_url=broker.url, topic_prefix=topic_prefix, partitions=1, gateway_send_timeout_s=2.0
        )
        await create_topics(settings)
        client = TestClient(TestServer(build_app(settings)))
        await client.start_server()
        try:
            event = {
                "event_id": "before-stop",
                "type": "survey.nps",
                "timestamp": int(time.time()),
                "response_id": "r1",
                "score": 9,
            }
            response = await client.post("/v1/events", json=event)
            assert response.status == 200
            assert await _topic_values(broker.bootstrap, settings.topic("survey")) == [event]

            await asyncio.to_thread(broker.stop)
            started = time.monotonic()
            response = await client.post("/v1/events", json={**event, "event_id": "after-stop"})
            answer = await response.json()
            assert (response.status, answer["error"]) == (503, "kafka_unavailable")
            assert int(response.headers["Retry-After"]) > 0
            assert time.monotonic() - started < 10  # bounded by gateway_send_timeout_s, not Kafka's 40 s
            assert (await (await client.get("/healthz")).json())["status"] == "ok"
        finally:
            await client.close()
    finally:
        await asyncio.to_thread(broker.stop)


async def _topic_values(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        values: list[Any] = []
        deadline = time.monotonic() + 15
        while not values and time.monotonic() < deadline:
            records = await consumer.getmany(timeout_ms=1000)
            values = [orjson.loads(r.value) for batch in records.values() for r in batch]
        return values
    finally:
        await consumer.stop()
