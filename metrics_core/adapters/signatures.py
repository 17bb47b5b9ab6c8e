"""Webhook signature checks: pure functions of (secret or key, headers, raw body, now).

Each returns None when the request is authentic and raises `SignatureError` saying why not.
They run on the raw body, before any JSON parsing: re-encoded JSON would not verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from metrics_core.errors import ConfigError


class SignatureError(ValueError):
    """The request is not authentic: a signature is missing, wrong, or too old."""


def load_sendgrid_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key SendGrid shows for a Signed Event Webhook (base64 DER, or PEM).

    Raises `ConfigError` at startup rather than failing every request later.
    """
    try:
        if text.lstrip().startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text.strip(), validate=True))
    except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
        raise ConfigError(
            "PULSE_SENDGRID_PUBLIC_KEY is not a base64 DER (or PEM) public key; copy the "
            f"verification key from SendGrid's Signed Event Webhook settings ({type(exc).__name__})"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ConfigError("PULSE_SENDGRID_PUBLIC_KEY is not an elliptic-curve (ECDSA P-256) key")
    return key


def verify_sendgrid(
    key: ec.EllipticCurvePublicKey,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    now_s: float,
    tolerance_s: int,
) -> None:
    """ECDSA (SHA-256) over `timestamp + body`; headers `X-Twilio-Email-Event-Webhook-Signature`
    (base64 DER signature) and `X-Twilio-Email-Event-Webhook-Timestamp` (epoch seconds).
    A timestamp more than `tolerance_s` from now is refused (0 turns the check off)."""
    if not signature or not timestamp:
        raise SignatureError("missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp header")
    try:
        der = base64.b64decode(signature, validate=True)
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureError("the SendGrid signature does not match the body") from None
    _fresh(timestamp, now_s, tolerance_s, "X-Twilio-Email-Event-Webhook-Timestamp")


def verify_segment(secret: str, signature: str | None, body: bytes) -> None:
    """`X-Signature`: the hex HMAC-SHA1 of the raw body under the shared secret."""
    if not signature:
        raise SignatureError("missing X-Signature header")
    expected = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    if not _same(expected, signature.strip()):
        raise SignatureError("the Segment signature does not match the body")


def verify_stripe(secret: str, header: str | None, body: bytes, now_s: float, tolerance_s: int) -> None:
    """`Stripe-Signature: t=<epoch s>,v1=<hex>[,v1=...]`: HMAC-SHA256 of `"{t}." + body`.

    Any v1 may match (Stripe sends several while a secret is being rolled); v0 is ignored.
    """
    timestamp, candidates = _stripe_header(header or "")
    if timestamp is None or not candidates:
        raise SignatureError("missing or malformed Stripe-Signature header (expected t=...,v1=...)")
    _epoch_s(timestamp, "Stripe-Signature timestamp")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not any(_same(expected, candidate) for candidate in candidates):
        raise SignatureError("no v1 signature in Stripe-Signature matches the body")
    _fresh(timestamp, now_s, tolerance_s, "Stripe-Signature timestamp")


def _stripe_header(header: str) -> tuple[str | None, list[str]]:
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t":
            timestamp = value
        elif name == "v1":
            candidates.append(value)
    return timestamp, candidates


def _same(expected_hex: str, given: str) -> bool:
    """Constant-time comparison of hex digests; compare_digest refuses non-ASCII str, so check first."""
    return given.isascii() and hmac.compare_digest(expected_hex, given.lower())


def _epoch_s(timestamp: str, what: str) -> int:
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError(f"{what} is not epoch seconds")
    return int(timestamp)


def _fresh(timestamp: str, now_s: float, tolerance_s: int, what: str) -> None:
    """Refuse a replay: the signed time must be within `tolerance_s` of now (0: no limit)."""
    if tolerance_s and abs(now_s - _epoch_s(timestamp, what)) > tolerance_s:
        raise SignatureError(f"{what} is more than {tolerance_s} s from now (a stale or replayed request)")
