"""Signature checks: valid, invalid (tampered body, wrong secret, garbage) and stale, per vendor."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metrics_core.adapters.signatures import (
    SignatureError,
    load_sendgrid_key,
    verify_segment,
    verify_sendgrid,
    verify_stripe,
)
from metrics_core.errors import ConfigError
from tests.unit.adapters.vendors import raw

NOW_S = 1_735_689_600


# --- SendGrid: ECDSA P-256 over timestamp + body


def sendgrid_keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A key pair as SendGrid's settings show the public half: base64 DER SubjectPublicKeyInfo."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sendgrid_sign(private: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    return base64.b64encode(private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.fixture(scope="module")
def keys() -> tuple[ec.EllipticCurvePrivateKey, str]:
    return sendgrid_keys()


def test_sendgrid_valid(keys: tuple[ec.EllipticCurvePrivateKey, str]) -> None:
    private, public = keys
    body, ts = raw("sendgrid_events"), str(NOW_S - 10)
    verify_sendgrid(load_sendgrid_key(public), sendgrid_sign(private, ts, body), ts, body, NOW_S, 300)


def test_sendgrid_pem_key_is_accepted_too(keys: tuple[ec.EllipticCurvePrivateKey, str]) -> None:
    private, _ = keys
    pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    body, ts = b"[]", str(NOW_S)
    verify_sendgrid(load_sendgrid_key(pem.decode()), sendgrid_sign(private, ts, body), ts, body, NOW_S, 300)


@pytest.mark.parametrize("case", ["tampered body", "other timestamp", "other key", "garbage", "missing"])
def test_sendgrid_invalid(keys: tuple[ec.EllipticCurvePrivateKey, str], case: str) -> None:
    private, public = keys
    body, ts = raw("sendgrid_events"), str(NOW_S)
    signature: str | None = sendgrid_sign(private, ts, body)
    if case == "tampered body":
        body = body.replace(b"delivered", b"bounce", 1)
    elif case == "other timestamp":
        ts = str(NOW_S - 1)
    elif case == "other key":
        signature = sendgrid_sign(sendgrid_keys()[0], ts, body)
    elif case == "garbage":
        signature = "not base64 at all ✓"
    else:
        signature = None
    with pytest.raises(SignatureError):
        verify_sendgrid(load_sendgrid_key(public), signature, ts, body, NOW_S, 300)


def test_sendgrid_stale(keys: tuple[ec.EllipticCurvePrivateKey, str]) -> None:
    private, public = keys
    body, ts = b"[]", str(NOW_S - 301)
    signature = sendgrid_sign(private, ts, body)
    with pytest.raises(SignatureError, match="stale"):
        verify_sendgrid(load_sendgrid_key(public), signature, ts, body, NOW_S, 300)
    verify_sendgrid(load_sendgrid_key(public), signature, ts, body, NOW_S, 0)  # 0: no age limit


@pytest.mark.parametrize("key", ["", "bm90IGEga2V5", "not base64!"])
def test_sendgrid_bad_key_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError, match="PULSE_SENDGRID_PUBLIC_KEY"):
        load_sendgrid_key(key)


# --- Segment: hex HMAC-SHA1 of the body


def segment_sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def test_segment_valid() -> None:
    body = raw("segment_track")
    verify_segment("s3cret", segment_sign("s3cret", body), body)
    verify_segment("s3cret", segment_sign("s3cret", body).upper(), body)


@pytest.mark.parametrize(
    "signature", [segment_sign("other", b"{}"), segment_sign("s3cret", b"{ }"), "zz", "é" * 40, "", None]
)
def test_segment_invalid(signature: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_segment("s3cret", signature, b"{}")


# --- Stripe: t=<ts>,v1=<hex HMAC-SHA256 of "t.body">


def stripe_header(secret: str, body: bytes, ts: int, extra: str = "") -> str:
    v1 = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={v1}{extra}"


def test_stripe_valid() -> None:
    body = raw("stripe_invoice_paid")
    verify_stripe("whsec_x", stripe_header("whsec_x", body, NOW_S - 100), body, NOW_S, 300)


def test_stripe_any_v1_may_match_while_a_secret_rolls() -> None:
    body = b"{}"
    header = stripe_header("whsec_new", body, NOW_S) + ",v1=" + "0" * 64 + ",v0=abc"
    verify_stripe("whsec_new", header, body, NOW_S, 300)
    rolled = f"t={NOW_S},v1={'0' * 64}," + stripe_header("whsec_new", body, NOW_S).split(",")[1]
    verify_stripe("whsec_new", rolled, body, NOW_S, 300)


@pytest.mark.parametrize(
    "header",
    [
        stripe_header("whsec_other", b"{}", NOW_S),
        stripe_header("whsec_x", b"{ }", NOW_S),
        stripe_header("whsec_x", b"{}", NOW_S).replace(f"t={NOW_S}", f"t={NOW_S + 1}"),
        f"t={NOW_S}",
        "v1=abc",
        "t=abc,v1=abc",
        "t=١٢٣,v1=abc",
        "garbage",
        "",
        None,
    ],
)
def test_stripe_invalid(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_stripe("whsec_x", header, b"{}", NOW_S, 300)


@pytest.mark.parametrize("age_s", [301, -301, 86_400])
def test_stripe_stale(age_s: int) -> None:
    header = stripe_header("whsec_x", b"{}", NOW_S - age_s)
    with pytest.raises(SignatureError, match="stale"):
        verify_stripe("whsec_x", header, b"{}", NOW_S, 300)
