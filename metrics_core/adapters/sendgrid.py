"""SendGrid Event Webhook (a JSON array of events) → native `email.*` events.

The recipient address is turned into `recipient_id` (hex SHA-256 of the lower-cased address)
and dropped: no address leaves this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from metrics_core.adapters.base import (
    AdapterError,
    AdapterResult,
    NativeEvent,
    Options,
    clip,
    compact,
    kind_of,
    pseudonym,
)
from metrics_core.events.decode import describe

# SendGrid's `type` on a bounce event: "bounce" (the mailbox refused it) or "blocked" (the
# receiving server refused the sender). Soft bounces arrive as `deferred` events instead.
_BOUNCE_TYPES = {"bounce": "hard", "blocked": "blocked"}

# The native fields beyond the common ones, per SendGrid event kind.
_Fields = Callable[[Mapping[str, Any]], NativeEvent]


def _recipient(item: Mapping[str, Any]) -> NativeEvent:
    return {"recipient_id": pseudonym(item.get("email"))}


def _bounce_type(value: object) -> str | None:
    return _BOUNCE_TYPES.get(value) if isinstance(value, str) else None


_MAPPERS: dict[str, tuple[str, _Fields]] = {
    "processed": ("email.sent", _recipient),
    "delivered": ("email.delivered", _recipient),
    "dropped": ("email.dropped", _recipient),
    "spamreport": ("email.spam_reported", _recipient),
    "open": ("email.opened", lambda item: {"machine": item.get("sg_machine_open")}),
    # SendGrid has no link-scanner flag: every click counts as human (see docs/gateway.md)
    "click": ("email.clicked", lambda item: {"url": clip(item.get("url")), "bot": False}),
    "bounce": ("email.bounced", lambda item: {"bounce_type": _bounce_type(item.get("type"))}),
    "unsubscribe": ("email.unsubscribed", lambda item: {"scope": "global"}),
    "group_unsubscribe": ("email.unsubscribed", lambda item: {"scope": "group"}),
}


def adapt(payload: object, options: Options) -> AdapterResult:
    """Map a SendGrid batch; `deferred` and kinds Pulse does not count are tallied in `ignored`.

    >>> result = adapt([{"event": "delivered", "sg_event_id": "e1", "timestamp": 1513299569,
    ...     "sg_message_id": "14c5d75ce93.filter0001.0", "email": "a@example.com",
    ...     "category": ["cat facts"]}, {"event": "deferred"}], Options())
    >>> {k: v for k, v in result.events[0].items() if k != "recipient_id"}
    {'event_id': 'e1', 'type': 'email.delivered', 'timestamp': 1513299569, 'property': 'default', \
'message_id': '14c5d75ce93', 'campaign_id': 'cat facts'}
    >>> dict(result.ignored)
    {'deferred': 1}
    """
    if not isinstance(payload, list):
        raise AdapterError(f"sendgrid: expected a JSON array of events, got {describe(payload)}")
    result = AdapterResult()
    for index, item in enumerate(payload):
        if not isinstance(item, dict):
            result.add(item, index)  # validation rejects it: not_an_object
            continue
        kind = item.get("event")
        mapper = _MAPPERS.get(kind) if isinstance(kind, str) else None
        if mapper is None:
            result.ignore(kind_of(kind))
        elif kind == "bounce" and not item.get("sg_message_id"):
            # SendGrid documents that an asynchronous bounce carries no message id: it cannot
            # be tied to a message, so it is acknowledged and counted, not rejected
            result.ignore("bounce.no_message_id")
        else:
            event_type, fields = mapper
            result.add(compact({**_common(item, event_type, options), **fields(item)}), index)
    return result


def _common(item: Mapping[str, Any], event_type: str, options: Options) -> NativeEvent:
    return {
        "event_id": item.get("sg_event_id"),
        "type": event_type,
        "timestamp": item.get("timestamp"),
        "property": options.property,
        "message_id": message_id(item.get("sg_message_id")),
        "campaign_id": campaign(item),
    }


def message_id(value: object) -> object:
    """The message's id: `sg_message_id` up to its first '.' (SendGrid appends a filter suffix).

    >>> message_id("14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0")
    '14c5d75ce93'
    """
    return value.split(".", 1)[0] if isinstance(value, str) else value


def campaign(item: Mapping[str, Any]) -> object:
    """The `campaign_id` custom argument, else the first category, else "none".

    >>> campaign({"category": ["welcome", "promo"]}), campaign({"campaign_id": "c7"}), campaign({})
    ('welcome', 'c7', 'none')
    """
    custom = item.get("campaign_id")
    if custom is not None and custom != "":
        return str(custom) if isinstance(custom, int) and not isinstance(custom, bool) else custom
    category = item.get("category")
    if isinstance(category, list):
        category = next((c for c in category if isinstance(c, str) and c), None)
    return category if isinstance(category, str) and category else "none"
