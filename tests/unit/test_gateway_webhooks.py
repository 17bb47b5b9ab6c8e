"""The gateway's vendor webhooks, in process over a fake sink: SendGrid, Segment, Stripe and
Delighted, their signatures, the gateway token in their stead, and payloads of the wrong shape.

They share the fake sink and `make_client` with tests/unit/test_gateway.py
(tests/unit/gateway_support.py); the vendors' payloads are tests/unit/adapters/vendors.py's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.unit.adapters.vendors import raw
from tests.unit.gateway_support import NOW_S, post
from tests.unit.gateway_support import make_client as make_client  # a fixture, re-exported for pytest

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
