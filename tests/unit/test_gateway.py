"""The HTTP layer of `pulse gateway`, in process (aiohttp's TestServer) over a fake sink."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import CollectorRegistry

from metrics_core.errors import BrokerUnavailable
from metrics_core.settings import Settings
from streams.gateway import build_app
from streams.producer import Message
from tests.unit.adapters.vendors import raw

NOW_S = 1_735_689_600
Client = TestClient[Any, Any]


class FakeSink:
    """Records what it is given; `down = True` makes it fail like an unreachable Kafka."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.down = False

    @property
    def connected(self) -> bool:
        return not self.down

    async def send(self, messages: Sequence[Message]) -> None:
        if self.down and messages:
            raise BrokerUnavailable("Kafka did not take 1 messages: connection refused")
        self.sent.extend(messages)

    async def close(self) -> None:
        pass

    def values(self) -> list[dict[str, Any]]:
        return [orjson.loads(value) for _, _, _, value, _ in self.sent]


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"kafka_url": "kafka://127.0.0.1:1", "topic_prefix": "p."}
    return Settings(**{**base, **overrides})


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., Any]]:
    """`await make_client(**settings)` -> (client, sink, registry); all closed at teardown."""
    clients: list[Client] = []

    async def make(**overrides: Any) -> tuple[Client, FakeSink, CollectorRegistry]:
        sink, registry = FakeSink(), CollectorRegistry()
        app = build_app(settings(**overrides), sink, registry, clock=lambda: NOW_S)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client, sink, registry

    yield make
    for client in clients:
        await client.close()


def page_view(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "clickstream.page_view",
        "timestamp": NOW_S - 5,
        "page": "/pricing",
        "anonymous_id": "v1",
        **fields,
    }


async def post(client: Client, path: str, body: Any, content_type: str = "application/json", **headers: str):
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    response = await client.post(path, data=data, headers={"Content-Type": content_type, **headers})
    return response.status, await response.json(), response


# --- native events


async def test_one_event_is_accepted_and_sent_keyed_to_its_topic(make_client: Any) -> None:
    client, sink, _ = await make_client()
    status, body, _ = await post(client, "/v1/events", page_view("e1"))
    assert (status, body) == (200, {"accepted": 1, "rejected": [], "rejected_count": 0, "ignored": {}})
    ((topic, partition, key, value, headers),) = sink.sent
    assert (topic, partition, key, headers) == ("p.clickstream", None, b"v1", [])
    assert orjson.loads(value)["event_id"] == "e1"


async def test_an_array_with_bad_events_is_207_with_a_reason_for_each(make_client: Any) -> None:
    client, sink, _ = await make_client()
    events = [
        page_view("ok-1"),
        page_view("no-page", page=None),
        {"event_id": "m1", "type": "email.sent", "timestamp": NOW_S, "message_id": "m", "campaign_id": "c"},
        "not an object",
        page_view("future", timestamp=NOW_S + 3600),
        {"event_id": "x", "type": "clickstream.teleport", "timestamp": NOW_S},
    ]
    status, body, _ = await post(client, "/v1/events", events)
    assert status == 207
    assert body["accepted"] == 2 and body["rejected_count"] == 4
    assert [(r["index"], r["event_id"], r["reason"]) for r in body["rejected"]] == [
        (1, "no-page", "missing_field"),
        (3, None, "not_an_object"),
        (4, "future", "future_timestamp"),
        (5, "x", "unknown_type"),
    ]
    assert "'page'" in body["rejected"][0]["detail"]
    assert [topic for topic, *_ in sink.sent] == ["p.clickstream", "p.email"]


async def test_all_rejected_is_400_and_nothing_is_sent(make_client: Any) -> None:
    client, sink, _ = await make_client()
    status, body, _ = await post(client, "/v1/events", [page_view("a", page=None), {}])
    assert (status, body["accepted"], body["rejected_count"]) == (400, 0, 2)
    assert sink.sent == []


async def test_ndjson_indexes_by_line_and_survives_a_bad_line(make_client: Any) -> None:
    client, sink, _ = await make_client()
    lines = orjson.dumps(page_view("n1")) + b"\n\n{oops\n" + orjson.dumps(page_view("n2")) + b"\n"
    status, body, _ = await post(client, "/v1/events", lines, "application/x-ndjson")
    assert (status, body["accepted"]) == (207, 2)
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [(2, "invalid_json")]
    assert [v["event_id"] for v in sink.values()] == ["n1", "n2"]


async def test_an_empty_array_is_fine(make_client: Any) -> None:
    client, _, _ = await make_client()
    status, body, _ = await post(client, "/v1/events", [])
    assert (status, body["accepted"]) == (200, 0)


# --- auth, limits, content types, garbage


async def test_bearer_token(make_client: Any) -> None:
    client, sink, _ = await make_client(gateway_token="t0ken")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic t0ken"}):
        status, body, _ = await post(client, "/v1/events", page_view("e"), **headers)
        assert (status, body["error"]) == (401, "unauthorized")
        assert "t0ken" not in str(body)
    status, _, _ = await post(client, "/v1/events", page_view("e"), Authorization="Bearer t0ken")
    assert status == 200 and len(sink.sent) == 1


@pytest.mark.parametrize("path", ["/v1/events", "/v1/webhooks/sendgrid", "/v1/webhooks/stripe"])
async def test_too_large_is_413(make_client: Any, path: str) -> None:
    client, sink, _ = await make_client(gateway_max_bytes=2048)
    big = [page_view(f"e{i}") for i in range(40)]
    status, body, _ = await post(client, path, big)
    assert (status, body["error"]) == (413, "too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(10):
            yield b" " * 1000

    response = await client.post(path, data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert sink.sent == []


async def test_webhooks_take_json_only(make_client: Any) -> None:
    client, _, _ = await make_client()
    status, _, _ = await post(client, "/v1/webhooks/sendgrid", b"{}\n", "application/x-ndjson")
    assert status == 415


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_wrong_content_type_is_415(make_client: Any, content_type: str) -> None:
    client, _, _ = await make_client()
    status, body, _ = await post(client, "/v1/events", page_view("e"), content_type)
    assert (status, body["error"]) == (415, "unsupported_media_type")


GARBAGE = [
    b"",
    b"not json",
    b"\xff\xfe\x00garbage",
    b"[" * 5000 + b"]" * 5000,  # nesting deeper than 1024
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"[1, 2",
    b"NaN",
    b"null",
    b"3",
    b'"a string"',
    b"[[[]]]",
    b'{"event_id": {"nested": [1, 2, {"x": null}]}, "type": ["a"], "timestamp": {}}',
    b'[{"event_id": "e", "type": "clickstream.page_view", "timestamp": 1e400}]',
    b'{"event_id": "e", "type": "survey.nps", "timestamp": 0, "response_id": "r", "score": 1'
    + b"0" * 30
    + b"}",
]


@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
@pytest.mark.parametrize("path", ["/v1/events", "/v1/webhooks/sendgrid", "/v1/webhooks/segment",
                                  "/v1/webhooks/stripe", "/v1/webhooks/delighted"])  # fmt: skip
async def test_garbage_is_a_clear_4xx_never_a_500(make_client: Any, path: str, body: bytes) -> None:
    client, sink, _ = await make_client()
    response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    answer = await response.json()
    assert response.status in (200, 400, 207), answer
    assert response.status == 200 or "error" in answer or answer["rejected"]
    assert sink.sent == [] or response.status in (200, 207)


async def test_unknown_routes_and_methods_answer_json(make_client: Any) -> None:
    client, _, _ = await make_client()
    response = await client.get("/v1/events")
    assert (response.status, (await response.json())["error"]) == (405, "method_not_allowed")
    response = await client.post("/v1/webhooks/mailchimp", data=b"{}")
    assert (response.status, (await response.json())["error"]) == (404, "not_found")


# --- Kafka down


async def test_kafka_down_is_503_with_retry_after_and_nothing_acknowledged(make_client: Any) -> None:
    client, sink, registry = await make_client()
    sink.down = True
    status, body, response = await post(client, "/v1/events", [page_view("e1"), page_view("bad", page=None)])
    assert (status, body["error"]) == (503, "kafka_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert "accepted" not in body
    assert (
        registry.get_sample_value("pulse_gateway_events_total", {"route": "events", "outcome": "accepted"})
        is None
    )
    assert registry.get_sample_value("pulse_gateway_requests_total", {"route": "events", "code": "503"}) == 1
    health = await (await client.get("/healthz")).json()
    assert health == {"status": "ok", "kafka": "unavailable"}


async def test_all_rejected_needs_no_kafka(make_client: Any) -> None:
    client, sink, _ = await make_client()
    sink.down = True
    status, _, _ = await post(client, "/v1/events", [{}])
    assert status == 400  # nothing to write: the answer does not depend on Kafka


# --- webhooks


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sendgrid_headers(private: ec.EllipticCurvePrivateKey, body: bytes, ts: int) -> dict[str, str]:
    signature = private.sign(str(ts).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": str(ts),
    }


async def test_sendgrid_signed_batch(make_client: Any) -> None:
    private, public = sendgrid_keys()
    client, sink, registry = await make_client(sendgrid_public_key=public)
    body = raw("sendgrid_events")
    status, answer, _ = await post(
        client, "/v1/webhooks/sendgrid?property=shop", body, **sendgrid_headers(private, body, NOW_S)
    )
    assert status == 200
    assert answer["accepted"] == 11
    assert answer["ignored"] == {"deferred": 1, "bounce.no_message_id": 1, "group_resubscribe": 1}
    assert {topic for topic, *_ in sink.sent} == {"p.email"}
    assert {key for _, _, key, _, _ in sink.sent} == {
        b"14c5d75ce93",
        b"14c5d75ce94",
        b"14c5d75ce95",
        b"14c5d75ce96",
    }
    assert {v["property"] for v in sink.values()} == {"shop"}
    assert not any(b"@" in value for _, _, _, value, _ in sink.sent)  # no address goes to Kafka
    ignored = {"route": "sendgrid", "kind": "deferred"}
    assert registry.get_sample_value("pulse_gateway_ignored_total", ignored) == 1
    counted = {"route": "sendgrid", "outcome": "accepted"}
    assert registry.get_sample_value("pulse_gateway_events_total", counted) == 11


async def test_sendgrid_retry_sends_identical_messages(make_client: Any) -> None:
    """A redelivered batch yields the same event ids, keys and bytes: the worker counts it once."""
    client, sink, _ = await make_client()
    body = raw("sendgrid_events")
    await post(client, "/v1/webhooks/sendgrid", body)
    first = list(sink.sent)
    await post(client, "/v1/webhooks/sendgrid", body)
    assert sink.sent[len(first) :] == first


@pytest.mark.parametrize("case", ["invalid", "stale", "missing"])
async def test_sendgrid_bad_signatures_are_401(make_client: Any, case: str) -> None:
    private, public = sendgrid_keys()
    client, sink, _ = await make_client(sendgrid_public_key=public)
    body = raw("sendgrid_events")
    headers = {
        "invalid": sendgrid_headers(sendgrid_keys()[0], body, NOW_S),
        "stale": sendgrid_headers(private, body, NOW_S - 3600),
        "missing": {},
    }[case]
    status, answer, _ = await post(client, "/v1/webhooks/sendgrid", body, **headers)
    assert (status, answer["error"]) == (401, "bad_signature")
    assert sink.sent == []


async def test_segment_signature(make_client: Any) -> None:
    client, sink, _ = await make_client(segment_secret="seg-secret")
    body = raw("segment_page_analytics_js")
    good = hmac.new(b"seg-secret", body, hashlib.sha1).hexdigest()
    bad = hmac.new(b"other", body, hashlib.sha1).hexdigest()
    status, _, _ = await post(client, "/v1/webhooks/segment", body, **{"X-Signature": bad})
    assert status == 401
    status, answer, _ = await post(client, "/v1/webhooks/segment", body, **{"X-Signature": good})
    assert (status, answer["accepted"]) == (200, 1)
    assert sink.values()[0]["page"] == "/academy/"


def stripe_signature(secret: str, body: bytes, ts: int) -> str:
    v1 = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={v1}"


@pytest.mark.parametrize(
    ("ts", "secret", "expected"),
    [(NOW_S - 10, "whsec_test", 200), (NOW_S - 10, "whsec_other", 401), (NOW_S - 301, "whsec_test", 401)],
)
async def test_stripe_signature(make_client: Any, ts: int, secret: str, expected: int) -> None:
    client, sink, _ = await make_client(stripe_secret="whsec_test")
    body = raw("stripe_invoice_paid")
    status, _, _ = await post(
        client, "/v1/webhooks/stripe", body, **{"Stripe-Signature": stripe_signature(secret, body, ts)}
    )
    assert status == expected
    assert len(sink.sent) == (1 if expected == 200 else 0)


async def test_stripe_unknown_kind_is_acknowledged(make_client: Any) -> None:
    client, _, registry = await make_client()
    status, answer, _ = await post(client, "/v1/webhooks/stripe", raw("stripe_customer_created"))
    assert (status, answer["accepted"], answer["ignored"]) == (200, 0, {"customer.created": 1})
    kind = {"route": "stripe", "kind": "customer.created"}
    assert registry.get_sample_value("pulse_gateway_ignored_total", kind) == 1


async def test_delighted_update(make_client: Any) -> None:
    client, sink, _ = await make_client()
    status, _, _ = await post(client, "/v1/webhooks/delighted", raw("delighted_survey_response_updated"))
    assert status == 200
    ((topic, _, key, _, _),) = sink.sent
    assert (topic, key) == ("p.survey", b"5435")


async def test_webhooks_without_signature_take_the_gateway_token(make_client: Any) -> None:
    client, _, _ = await make_client(gateway_token="t0ken")
    body = raw("delighted_survey_response_updated")
    assert (await post(client, "/v1/webhooks/delighted", body))[0] == 401
    assert (await post(client, "/v1/webhooks/delighted?token=nope", body))[0] == 401
    assert (await post(client, "/v1/webhooks/delighted?token=t0ken", body))[0] == 200
    assert (await post(client, "/v1/webhooks/delighted", body, Authorization="Bearer t0ken"))[0] == 200


async def test_a_wrong_payload_shape_is_400(make_client: Any) -> None:
    client, _, _ = await make_client()
    status, answer, _ = await post(client, "/v1/webhooks/sendgrid", {"event": "delivered"})
    assert (status, answer["error"]) == (400, "unexpected_payload")
    assert "JSON array" in answer["detail"]


async def test_webhook_with_only_bad_items_is_400(make_client: Any) -> None:
    client, _, _ = await make_client()
    status, answer, _ = await post(client, "/v1/webhooks/sendgrid", [{"event": "delivered", "timestamp": 1}])
    assert status == 400
    assert answer["rejected"][0]["reason"] == "missing_field" and answer["rejected"][0]["index"] == 0


# --- the gateway's own endpoints


async def test_metrics_and_healthz(make_client: Any) -> None:
    client, _, _ = await make_client()
    await post(client, "/v1/events", [page_view("e1"), {}])
    text = await (await client.get("/metrics")).text()
    assert 'pulse_gateway_requests_total{code="207",route="events"} 1.0' in text
    assert 'pulse_gateway_events_total{outcome="accepted",route="events"} 1.0' in text
    assert 'pulse_gateway_events_total{outcome="rejected",route="events"} 1.0' in text
    health = await (await client.get("/healthz")).json()
    assert health == {"status": "ok", "kafka": "connected"}
