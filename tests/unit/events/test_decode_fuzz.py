"""decode is total: no input, however hostile, makes it raise."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics_core.events import FAMILIES, TYPES, Event, Rejection, decode, decode_json
from metrics_core.events.schema import MAX_STRING_CHARS
from metrics_core.events.timestamps import MAX_EPOCH_MS
from tests.unit.events.examples import NOW_MS, message

# values orjson can write: ints within 64 bits, finite floats
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=300)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
# what a parsed object from elsewhere may hold too: huge ints, nan, ±inf, tuples
python_values = st.recursive(
    json_scalars | st.integers() | st.floats() | st.binary(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.tuples(children),
    max_leaves=8,
)

FIELD_NAMES = sorted(
    {"event_id", "type", "timestamp", "property"}
    | {name for spec in TYPES.values() for name in (*spec.required, *spec.optional, *spec.one_of)}
)
near_miss_values = (
    st.sampled_from(
        [
            "",
            "x" * 257,
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00Z",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
            "USD",
            "hard",
            *TYPES,
        ]
    )
    | st.integers(-2, 12)
    | st.sampled_from([2**53, 10**400, 1.5, float("nan"), True, None])
)


def reason_of(result: Event | Rejection) -> str | None:
    return result.reason.value if isinstance(result, Rejection) else None


def check_result(result: object, topic: str) -> None:
    """Whatever came in, what comes out is a well-formed Event or Rejection."""
    assert isinstance(result, Event | Rejection)
    if isinstance(result, Rejection):
        assert isinstance(result.detail, str)
        assert len(result.detail) < 400
        return
    spec = TYPES[result.type]
    assert result.family == topic
    assert 0 <= result.ts_ms <= NOW_MS + 300_000
    assert result.ts_ms < MAX_EPOCH_MS
    assert 0 < len(result.property) <= MAX_STRING_CHARS
    assert 0 < len(result.event_id) <= 128
    assert set(spec.required) <= set(result.fields)
    assert set(result.fields) <= {*spec.required, *spec.optional, *spec.one_of}


@given(data=st.binary(max_size=2000), topic=st.sampled_from(FAMILIES))
def test_arbitrary_bytes(data: bytes, topic: str) -> None:
    check_result(decode(data, topic, NOW_MS), topic)


@given(obj=json_values, topic=st.sampled_from(FAMILIES))
def test_arbitrary_json(obj: Any, topic: str) -> None:
    check_result(decode(orjson.dumps(obj), topic, NOW_MS), topic)


@settings(max_examples=200)
@given(
    event_type=st.sampled_from(sorted(TYPES)),
    changes=st.dictionaries(st.sampled_from(FIELD_NAMES), json_values | near_miss_values),
)
def test_valid_events_with_random_changes(event_type: str, changes: dict[str, Any]) -> None:
    obj = {**message(event_type), **changes}
    topic = event_type.partition(".")[0]
    check_result(decode_json(obj, topic, NOW_MS), topic)
    try:
        data = orjson.dumps(obj)
    except orjson.JSONEncodeError:  # an int over 64 bits: no JSON writer we know sends it
        return
    check_result(decode(data, topic, NOW_MS), topic)


@given(
    event_type=st.sampled_from(sorted(TYPES)),
    changes=st.dictionaries(st.sampled_from(FIELD_NAMES), python_values),
)
def test_parsed_objects_with_python_values(event_type: str, changes: dict[str, Any]) -> None:
    topic = event_type.partition(".")[0]
    check_result(decode_json({**message(event_type), **changes}, topic, NOW_MS), topic)


@given(event_type=st.sampled_from(sorted(TYPES)), drop=st.sets(st.sampled_from(FIELD_NAMES)))
def test_valid_events_with_fields_dropped(event_type: str, drop: set[str]) -> None:
    obj = {key: value for key, value in message(event_type).items() if key not in drop}
    topic = event_type.partition(".")[0]
    check_result(decode_json(obj, topic, NOW_MS), topic)


def test_depth_bomb_is_rejected_cleanly() -> None:
    bomb = b"[" * 100_000
    assert reason_of(decode(bomb, "clickstream", NOW_MS)) == "too_large"
    result = decode(bomb, "clickstream", NOW_MS, max_bytes=1 << 20)
    assert isinstance(result, Rejection)
    assert result.reason.value == "invalid_json"
    deep_object = b'{"a":' * 60_000
    assert reason_of(decode(deep_object, "clickstream", NOW_MS, max_bytes=1 << 20)) == "invalid_json"
    well_formed = b"[" * 5000 + b"]" * 5000
    assert reason_of(decode(well_formed, "clickstream", NOW_MS)) == "invalid_json"


def test_megabyte_string_field_is_rejected_cleanly() -> None:
    huge = orjson.dumps(message("clickstream.page_view", title="t" * (1 << 20)))
    assert reason_of(decode(huge, "clickstream", NOW_MS)) == "too_large"
    result = decode(huge, "clickstream", NOW_MS, max_bytes=2 << 20)
    assert isinstance(result, Rejection)
    assert result.reason.value == "string_too_long"
    assert len(result.detail) < 200


def test_megabyte_string_in_every_position_is_rejected_cleanly() -> None:
    for name in FIELD_NAMES:
        obj = {**message("customer.order_placed"), name: "x" * (1 << 20)}
        result = decode_json(obj, "customer", NOW_MS)
        if name in {
            "event_id",
            "type",
            "timestamp",
            "property",
            "order_id",
            "customer_id",
            "amount",
            "currency",
        }:
            assert isinstance(result, Rejection), name
            assert len(result.detail) < 300
        else:
            assert isinstance(result, Event)  # an unknown field is ignored, whatever its size
