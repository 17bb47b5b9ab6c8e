"""Raw Kafka message → `Event` or `Rejection`: the total, pure decoder of DESIGN §3."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from metrics_core.events.model import Event, Reason, Rejection
from metrics_core.events.schema import (
    MAX_STRING_CHARS,
    TYPES,
    Kind,
    Relation,
    TypeSpec,
    family_of,
    ident,
    text,
)
from metrics_core.events.timestamps import InvalidTimestamp, parse_timestamp_ms

MAX_FUTURE_MS = 300_000  # DESIGN §3: more than 5 minutes ahead of now is rejected
DEFAULT_PROPERTY = "default"
_SHOWN_CHARS = 40  # a detail quotes at most this much of a value: it may be huge or personal

_EVENT_ID_CHARS = 128
_EVENT_ID = ident(_EVENT_ID_CHARS)
_PROPERTY = text(MAX_STRING_CHARS)  # "" is allowed: it means the default property


@dataclass(frozen=True, slots=True)
class _Plan:
    """A `TypeSpec` flattened at import time into what the per-event loop needs.

    Each rule carries `fast_chars`: the length limit of a plain string field, so that the
    common case (a non-empty string within its limit) is accepted inline without calling the
    kind's check: ~7 fields × ~50k events/s. It is -1 for kinds that are not plain strings.
    """

    type: str
    family: str
    required: tuple[tuple[str, Kind, int], ...]  # (name, kind, fast_chars)
    optional: tuple[tuple[str, Kind, int, object], ...]  # (name, kind, fast_chars, default | None)
    one_of: tuple[str, ...]
    one_of_kind: Kind | None
    relations: tuple[Relation, ...]


def _plan(event_type: str, spec: TypeSpec) -> _Plan:
    optional = {**spec.optional, **spec.one_of}
    return _Plan(
        type=event_type,
        family=family_of(event_type),
        required=tuple((name, kind, _fast_chars(kind)) for name, kind in spec.required.items()),
        optional=tuple(
            (name, kind, _fast_chars(kind), spec.defaults.get(name)) for name, kind in optional.items()
        ),
        one_of=tuple(spec.one_of),
        one_of_kind=next(iter(spec.one_of.values()), None),
        relations=spec.relations,
    )


def _fast_chars(kind: Kind) -> int:
    return -1 if kind.max_chars is None else kind.max_chars


_PLANS: dict[str, _Plan] = {name: _plan(name, spec) for name, spec in TYPES.items()}


def decode(raw: bytes | None, topic_family: str, now_ms: int, max_bytes: int = 65_536) -> Event | Rejection:
    """Decode one message from the `topic_family` topic; never raises.

    >>> decode(b'{"event_id": "e1", "type": "social.like", "timestamp": 1704067200,'
    ...        b' "platform": "x"}', "social", now_ms=1704067200000)
    Event(event_id='e1', type='social.like', ts_ms=1704067200000, property='default', \
fields={'platform': 'x', 'count': 1})
    >>> decode(b"[1]", "social", now_ms=0)
    Rejection(reason=<Reason.NOT_AN_OBJECT: 'not_an_object'>, detail='event: expected a JSON \
object, got array of 1 items')
    """
    if not raw:
        return Rejection(Reason.INVALID_JSON, "event: empty message (expected one JSON object)")
    if len(raw) > max_bytes:
        return Rejection(
            Reason.TOO_LARGE,
            f"event: message of {len(raw)} bytes is over the {max_bytes}-byte limit",
        )
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # bad JSON, bad UTF-8, nesting over 1024 deep
        # orjson's message names the position, never the content
        return Rejection(Reason.INVALID_JSON, f"event: not UTF-8 JSON ({str(exc)[:120]})")
    return decode_json(obj, topic_family, now_ms)


def decode_json(obj: object, topic_family: str, now_ms: int) -> Event | Rejection:
    """Validate an already parsed JSON value (as `orjson.loads` returns it); never raises.

    >>> decode_json({"event_id": "e1", "type": "survey.nps", "timestamp": 0,
    ...              "response_id": "r1", "score": 11}, "survey", now_ms=0).detail
    "survey.nps: field 'score' is out of range: expected an integer 0..10, got integer 11"
    """
    if not isinstance(obj, dict):
        return Rejection(Reason.NOT_AN_OBJECT, f"event: expected a JSON object, got {describe(obj)}")
    event_id = obj.get("event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= _EVENT_ID_CHARS:
        return _common_field_problem(obj, "event_id", event_id, _EVENT_ID)
    event_type = obj.get("type")
    plan = _PLANS.get(event_type) if event_type.__class__ is str else None
    if plan is None:
        return _type_problem(event_type)
    if plan.family != topic_family:
        detail = f"{plan.type}: belongs on the {plan.family!r} topic, not on {topic_family!r}"
        return Rejection(Reason.WRONG_TOPIC, detail)
    ts_ms = _event_time(plan.type, obj.get("timestamp"), now_ms)
    if isinstance(ts_ms, Rejection):
        return ts_ms
    prop = obj.get("property")
    if prop is None or prop == "":
        prop = DEFAULT_PROPERTY
    elif not isinstance(prop, str) or len(prop) > MAX_STRING_CHARS:
        return _common_field_problem(obj, "property", prop, _PROPERTY)
    fields = _fields(plan, obj)
    if isinstance(fields, Rejection):
        return fields
    return Event(event_id, plan.type, ts_ms, prop, fields)


def _type_problem(event_type: object) -> Rejection:
    """Why `type` names no known event type."""
    if event_type is None or event_type == "":
        return Rejection(Reason.MISSING_FIELD, "event: field 'type' is missing (required string)")
    got = describe(event_type)
    if not isinstance(event_type, str):
        detail = f"event: field 'type' has the wrong type: expected a string, got {got}"
        return Rejection(Reason.WRONG_TYPE, detail)
    detail = f"event: unknown type {got} (expected one of DESIGN §3, e.g. 'clickstream.click')"
    return Rejection(Reason.UNKNOWN_TYPE, detail)


def _event_time(event_type: str, value: object, now_ms: int) -> int | Rejection:
    if value is None or value == "":
        expected = "RFC 3339 string or epoch seconds"
        detail = f"{event_type}: field 'timestamp' is missing (required {expected})"
        return Rejection(Reason.MISSING_FIELD, detail)
    try:
        ts_ms = parse_timestamp_ms(value)
    except InvalidTimestamp as exc:
        detail = f"{event_type}: field 'timestamp' is invalid: {exc}; got {describe(value)}"
        return Rejection(Reason.INVALID_TIMESTAMP, detail)
    if ts_ms - now_ms > MAX_FUTURE_MS:
        detail = (
            f"{event_type}: field 'timestamp' is {ts_ms - now_ms} ms ahead of now "
            f"(at most {MAX_FUTURE_MS} ms allowed; check the producer's clock)"
        )
        return Rejection(Reason.FUTURE_TIMESTAMP, detail)
    return ts_ms


def _fields(plan: _Plan, obj: dict[Any, Any]) -> dict[str, Any] | Rejection:
    """The type-specific fields of `obj`, checked, with defaults; unknown fields are dropped."""
    fields: dict[str, Any] = {}
    get = obj.get
    for name, kind, fast_chars in plan.required:
        value = get(name)
        if not (value.__class__ is str and 0 < len(value) <= fast_chars):
            if value is None or value == "":
                return _missing(plan.type, repr(name), kind)
            reason = kind.check(value)
            if reason is not None:
                return _invalid(plan.type, name, kind, value, reason)
        fields[name] = value
    for name, kind, fast_chars, default in plan.optional:
        value = get(name)
        if not (value.__class__ is str and 0 < len(value) <= fast_chars):
            if value is None or (value == "" and kind.blank_is_absent):
                if default is not None:
                    fields[name] = default
                continue
            reason = kind.check(value)
            if reason is not None:
                return _invalid(plan.type, name, kind, value, reason)
        fields[name] = value
    if plan.one_of or plan.relations:
        return _across_fields(plan, fields)
    return fields


def _across_fields(plan: _Plan, fields: dict[str, Any]) -> dict[str, Any] | Rejection:
    """The rules that look at several fields: the one-of requirement and the relations."""
    if plan.one_of_kind is not None and fields.keys().isdisjoint(plan.one_of):
        return _missing(plan.type, " or ".join(map(repr, plan.one_of)), plan.one_of_kind)
    for relation in plan.relations:
        fault = relation(fields)
        if fault is not None:
            name, expected = fault
            got = describe(fields[name])
            detail = f"{plan.type}: field {name!r} is out of range: expected {expected}, got {got}"
            return Rejection(Reason.OUT_OF_RANGE, detail)
    return fields


def _common_field_problem(obj: dict[Any, Any], name: str, value: object, kind: Kind) -> Rejection:
    """Why `event_id` or `property` failed; the detail names the event's type when it is known."""
    if value is None or value == "":
        return _missing(_who(obj), repr(name), kind)
    return _invalid(_who(obj), name, kind, value, kind.check(value) or Reason.WRONG_TYPE)


def _who(obj: dict[Any, Any]) -> str:
    """The event's type for a detail's prefix, if it is a known one, else 'event'."""
    event_type = obj.get("type")
    return event_type if isinstance(event_type, str) and event_type in _PLANS else "event"


def _missing(event_type: str, names: str, kind: Kind) -> Rejection:
    return Rejection(Reason.MISSING_FIELD, f"{event_type}: field {names} is missing (required {kind.label})")


_WHAT_IS_WRONG = {
    Reason.WRONG_TYPE: "has the wrong type",
    Reason.OUT_OF_RANGE: "is out of range",
    Reason.STRING_TOO_LONG: "is too long",
}


def _invalid(event_type: str, name: str, kind: Kind, value: object, reason: Reason) -> Rejection:
    what = _WHAT_IS_WRONG.get(reason, "is invalid")
    detail = f"{event_type}: field {name!r} {what}: expected {kind.expected}, got {describe(value)}"
    return Rejection(reason, detail)


def describe(value: object) -> str:
    """A short, safe account of a JSON value for a detail: never more than 40 of its chars.

    >>> describe("x" * 1000)
    "1000-char string 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'…"
    >>> describe(True), describe(3.0), describe({"a": 1})
    ('true', 'number 3.0', 'object of 1 keys')
    """
    show = _DESCRIBE.get(type(value))
    return show(value) if show is not None else type(value).__name__


def _describe_str(value: str) -> str:
    if len(value) <= _SHOWN_CHARS:
        return f"string {value!r}"
    return f"{len(value)}-char string {value[:_SHOWN_CHARS]!r}…"


def _describe_int(value: int) -> str:
    # str() of an int over 4300 digits raises ValueError in Python ≥ 3.11; keep it short anyway
    if -(10**_SHOWN_CHARS) < value < 10**_SHOWN_CHARS:
        return f"integer {value}"
    return f"integer of {value.bit_length()} bits"


_DESCRIBE: dict[type, Callable[[Any], str]] = {
    str: _describe_str,
    int: _describe_int,
    bool: lambda value: "true" if value else "false",
    float: lambda value: f"number {value!r}",
    type(None): lambda value: "null",
    list: lambda value: f"array of {len(value)} items",
    dict: lambda value: f"object of {len(value)} keys",
}
