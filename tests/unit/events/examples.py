"""A minimal valid example of every event type, a builder for messages, and decode shortcuts."""

from __future__ import annotations

from typing import Any

import orjson

from metrics_core.events import Event, Rejection, decode

NOW_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
NOW_RFC3339 = "2024-01-01T00:00:00Z"

# type -> (the type-specific fields of a minimal valid message, the expected Event.fields)
EXAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


def _example(event_type: str, given: dict[str, Any], **defaults: Any) -> None:
    EXAMPLES[event_type] = (given, {**given, **defaults})


_example("clickstream.page_view", {"page": "/pricing", "anonymous_id": "a-1"})
_example("clickstream.impression", {"placement": "hero"})
_example("clickstream.click", {"placement": "hero"})
_example("clickstream.conversion", {"goal": "signup", "user_id": "u-1"})
_example("clickstream.feature_used", {"feature": "export", "user_id": "u-1"})
for _name in ("sent", "delivered", "dropped", "spam_reported", "bounced", "opened", "clicked"):
    _example(f"email.{_name}", {"message_id": "m-1", "campaign_id": "c-1"})
for _name in ("unsubscribed", "converted"):
    _example(f"email.{_name}", {"message_id": "m-1", "campaign_id": "c-1"})
for _name in ("impression", "like", "unlike", "comment", "share", "save", "click"):
    _example(f"social.{_name}", {"platform": "instagram"}, count=1)
_example("social.mention", {"platform": "x", "brand": "acme", "own": False})
_example("social.follow", {"platform": "x"}, count=1)
_example("social.unfollow", {"platform": "x"}, count=1)
_example("social.followers", {"platform": "x", "followers": 0})
_example("social.inbound_message", {"platform": "x", "conversation_id": "cv-1"})
_example("social.reply", {"platform": "x", "conversation_id": "cv-1"})
_example("survey.nps", {"response_id": "r-1", "score": 0})
_example("survey.csat", {"response_id": "r-1", "score": 5}, scale_max=5)
_example("survey.ces", {"response_id": "r-1", "score": 7})
_example("customer.subscription_started", {"customer_id": "cu-1"})
_example("customer.subscription_reactivated", {"customer_id": "cu-1"})
_example("customer.subscription_cancelled", {"customer_id": "cu-1"})
_example(
    "customer.order_placed",
    {"order_id": "o-1", "customer_id": "cu-1", "amount": 19.99},
    currency="USD",
)
_example("customer.ticket_opened", {"ticket_id": "t-1"})
_example("customer.ticket_resolved", {"ticket_id": "t-1"})
for _name in ("event_registered", "event_attended", "event_interaction"):
    _example(f"customer.{_name}", {"event_name": "summit", "attendee_id": "at-1"})


def message(event_type: str, **fields: Any) -> dict[str, Any]:
    """A valid message of `event_type` (minimal example), with `fields` overriding or adding.

    A field given as `...` (Ellipsis) is removed.
    """
    msg: dict[str, Any] = {
        "event_id": "e-1",
        "type": event_type,
        "timestamp": NOW_RFC3339,
        **EXAMPLES[event_type][0],
        **fields,
    }
    return {key: value for key, value in msg.items() if value is not ...}


def raw(event_type: str, **fields: Any) -> bytes:
    """`message(...)` as JSON bytes."""
    return orjson.dumps(message(event_type, **fields))


def decoded(event_type: str, **fields: Any) -> Event | Rejection:
    return decode(raw(event_type, **fields), event_type.partition(".")[0], NOW_MS)


def rejected(event_type: str, **fields: Any) -> Rejection:
    result = decoded(event_type, **fields)
    assert isinstance(result, Rejection), result
    return result
