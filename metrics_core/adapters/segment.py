"""Segment Spec calls (`page`, `track`; `identify` is tallied) → native `clickstream.*` events.

Segment's webhook destination posts one call per request; an array of calls, or a
`{"batch": [...]}` object as the HTTP tracking API takes, is accepted too. Event time is the
call's `timestamp` (when it happened), never `sentAt` (when the library flushed its queue).
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
    dig,
    first,
    kind_of,
)
from metrics_core.events.decode import describe

_Mapper = Callable[[Mapping[str, Any], Options], NativeEvent | None]


def _page(call: Mapping[str, Any], options: Options) -> NativeEvent:
    properties = call.get("properties")
    return {
        "type": "clickstream.page_view",
        "page": first(dig(properties, "path"), dig(call, "context", "page", "path"), call.get("name")),
        "referrer": clip(first(dig(properties, "referrer"), dig(call, "context", "page", "referrer"))),
        "title": clip(first(dig(properties, "title"), dig(call, "context", "page", "title"))),
        "user_agent": clip(dig(call, "context", "userAgent")),
    }


def _track(call: Mapping[str, Any], options: Options) -> NativeEvent | None:
    """A conversion when the event's name is in the conversion list, else a feature used by a
    known user, else None (an anonymous feature use counts towards nothing)."""
    name = call.get("event")
    if isinstance(name, str) and name in options.conversions:
        properties = call.get("properties")
        value = first(dig(properties, "revenue"), dig(properties, "value"))
        return {"type": "clickstream.conversion", "goal": name, "value": value}
    if call.get("userId") in (None, ""):
        return None
    return {"type": "clickstream.feature_used", "feature": name}


_MAPPERS: dict[str, _Mapper] = {"page": _page, "track": _track}


def adapt(payload: object, options: Options) -> AdapterResult:
    """Map Segment calls; `identify`, anonymous non-conversion `track`s and other calls are tallied.

    >>> result = adapt({"type": "page", "messageId": "ajs-1", "anonymousId": "a1",
    ...     "timestamp": "2015-02-23T22:28:55.111Z", "sentAt": "2015-02-23T22:28:59Z",
    ...     "properties": {"path": "/academy/"}}, Options(property="shop"))
    >>> result.events
    [{'event_id': 'ajs-1', 'timestamp': '2015-02-23T22:28:55.111Z', 'property': 'shop', \
'anonymous_id': 'a1', 'type': 'clickstream.page_view', 'page': '/academy/'}]
    """
    result = AdapterResult()
    for index, call in enumerate(_calls(payload)):
        if not isinstance(call, dict):
            result.add(call, index)  # validation rejects it: not_an_object
            continue
        kind = call.get("type")
        mapper = _MAPPERS.get(kind) if isinstance(kind, str) else None
        fields = mapper(call, options) if mapper is not None else None
        if fields is None:
            result.ignore(f"{kind}.anonymous" if kind == "track" else kind_of(kind))
            continue
        common = {
            "event_id": call.get("messageId"),
            "timestamp": call.get("timestamp"),
            "property": options.property,
            "user_id": call.get("userId"),
            "anonymous_id": call.get("anonymousId"),
        }
        result.add(compact({**common, **fields}), index)
    return result


def _calls(payload: object) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        batch = payload.get("batch")
        return batch if isinstance(batch, list) and "type" not in payload else [payload]
    raise AdapterError(f"segment: expected a call object or an array of calls, got {describe(payload)}")
