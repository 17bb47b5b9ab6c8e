"""Who may post: the bearer token for native events, the vendors' signatures for webhooks.

A webhook route is authenticated by its vendor's signature when that vendor's secret (or
public key) is configured; otherwise by the gateway token, which vendors that cannot set a
header pass as `?token=`; otherwise it is open (and the gateway says so loudly at startup).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping

from metrics_core.adapters.signatures import (
    SignatureError,
    load_sendgrid_key,
    verify_segment,
    verify_sendgrid,
    verify_stripe,
)
from metrics_core.settings import Settings
from streams.gateway_intake import Refusal

# (headers, raw body, now in epoch seconds) -> None, or raises SignatureError
Verifier = Callable[[Mapping[str, str], bytes, float], None]

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"


def verifiers(settings: Settings) -> dict[str, Verifier]:
    """A signature check for each vendor whose secret is configured (a bad key fails here, at start)."""
    checks: dict[str, Verifier] = {}
    if settings.sendgrid_public_key is not None:
        key = load_sendgrid_key(settings.sendgrid_public_key.get_secret_value())
        tolerance_s = settings.sendgrid_tolerance_s
        checks["sendgrid"] = lambda headers, body, now_s: verify_sendgrid(
            key, headers.get(SENDGRID_SIGNATURE), headers.get(SENDGRID_TIMESTAMP), body, now_s, tolerance_s
        )
    if settings.segment_secret is not None:
        segment_secret = settings.segment_secret.get_secret_value()
        checks["segment"] = lambda headers, body, now_s: verify_segment(
            segment_secret, headers.get("X-Signature"), body
        )
    if settings.stripe_secret is not None:
        stripe_secret = settings.stripe_secret.get_secret_value()
        stripe_tolerance_s = settings.stripe_tolerance_s
        checks["stripe"] = lambda headers, body, now_s: verify_stripe(
            stripe_secret, headers.get("Stripe-Signature"), body, now_s, stripe_tolerance_s
        )
    return checks


class Guard:
    """Authenticates requests; raises a 401 `Refusal` naming what is missing or wrong, never a secret."""

    def __init__(self, settings: Settings) -> None:
        token = settings.gateway_token
        self._token = token.get_secret_value().encode() if token is not None else None
        self._verifiers = verifiers(settings)

    def describe(self, route: str) -> str:
        """How `route` is authenticated, for the startup log (no secret in it)."""
        if route in self._verifiers:
            return "vendor signature"
        if self._token is not None:
            return "bearer token" if route == "events" else "gateway token (header or ?token=)"
        return "NONE (open to anyone who can reach the port)"

    def native(self, headers: Mapping[str, str]) -> None:
        """POST /v1/events: `Authorization: Bearer <PULSE_GATEWAY_TOKEN>` when a token is set."""
        if self._token is not None and not self._matches(_bearer(headers)):
            raise Refusal(401, "unauthorized", "missing or wrong bearer token (Authorization: Bearer ...)")

    def webhook(
        self, vendor: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes, now_s: float
    ) -> None:
        verify = self._verifiers.get(vendor)
        if verify is not None:
            try:
                verify(headers, body, now_s)
            except SignatureError as exc:
                raise Refusal(401, "bad_signature", f"{vendor}: {exc}") from None
        elif self._token is not None and not self._matches(_bearer(headers) or query.get("token")):
            raise Refusal(401, "unauthorized", "missing or wrong gateway token (bearer header or ?token=)")

    def _matches(self, given: str | None) -> bool:
        assert self._token is not None
        if given is None:
            return False
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self._token)


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, credentials = headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None
