"""decode / decode_json: valid events of every type, each rejection reason, the common fields.

The rules of single types (ids, counts, scores, flags, money, enums): test_type_rules.py.
"""

from __future__ import annotations

import pytest

from metrics_core.events import TYPES, Event, Reason, Rejection, decode, decode_json
from tests.unit.events.examples import EXAMPLES, NOW_MS, decoded, message, raw, rejected

# --- valid events


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_minimal_example_of_every_type(event_type: str) -> None:
    _, expected_fields = EXAMPLES[event_type]
    result = decoded(event_type)
    assert result == Event("e-1", event_type, NOW_MS, "default", expected_fields)
    assert isinstance(result, Event)
    assert result.family == event_type.partition(".")[0]


def test_full_page_view() -> None:
    result = decoded(
        "clickstream.page_view",
        page="/a",
        user_id="u-1",
        anonymous_id="a-1",
        session_id="s-1",
        referrer="",  # free text may be empty: direct traffic has no referrer
        title="Pricing — Acme",
        user_agent="Mozilla/5.0",
        property="shop.example",
        timestamp=1_704_067_199.25,
    )
    assert result == Event(
        "e-1",
        "clickstream.page_view",
        NOW_MS - 750,
        "shop.example",
        {
            "page": "/a",
            "user_id": "u-1",
            "anonymous_id": "a-1",
            "session_id": "s-1",
            "referrer": "",
            "title": "Pricing — Acme",
            "user_agent": "Mozilla/5.0",
        },
    )


def test_unknown_fields_are_ignored_and_not_copied() -> None:
    result = decoded("social.like", reactions={"a": 1}, email="alice@example.com", count=3)
    assert isinstance(result, Event)
    assert result.fields == {"platform": "instagram", "count": 3}


@pytest.mark.parametrize("blank", [None, ""])
def test_blank_optional_field_is_absent_and_blank_property_is_default(blank: object) -> None:
    result = decoded("email.bounced", bounce_type=blank, recipient_id=blank, property=blank)
    assert isinstance(result, Event)
    assert result.property == "default"
    assert result.fields == {"message_id": "m-1", "campaign_id": "c-1"}


def test_blank_optional_field_with_a_default_gets_the_default() -> None:
    result = decoded("customer.order_placed", currency=None)
    assert isinstance(result, Event)
    assert result.fields["currency"] == "USD"


def test_optional_fields_are_kept() -> None:
    result = decoded("customer.order_placed", currency="EUR", amount=0, plan="gold", property="brand-b")
    assert isinstance(result, Event)
    assert result.property == "brand-b"
    assert result.fields == {
        "order_id": "o-1",
        "customer_id": "cu-1",
        "amount": 0,
        "currency": "EUR",
    }


def test_decode_json_is_the_same_validation() -> None:
    for event_type in TYPES:
        obj = message(event_type)
        assert decode_json(obj, event_type.partition(".")[0], NOW_MS) == decoded(event_type)


# --- one test per reason


def test_too_large() -> None:
    result = decode(raw("clickstream.page_view", title="x" * 100), "clickstream", NOW_MS, 100)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.TOO_LARGE
    assert "over the 100-byte limit" in result.detail


@pytest.mark.parametrize("data", [None, b"", b"{", b"\xff\xfe{}", b"{'a': 1}", b"NaN"])
def test_invalid_json(data: bytes | None) -> None:
    result = decode(data, "clickstream", NOW_MS)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.INVALID_JSON


@pytest.mark.parametrize("data", [b"[]", b"1", b'"event"', b"null", b"true"])
def test_not_an_object(data: bytes) -> None:
    result = decode(data, "clickstream", NOW_MS)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.NOT_AN_OBJECT


def test_unknown_type() -> None:
    result = rejected("clickstream.page_view", type="clickstream.page_viewed")
    assert result.reason is Reason.UNKNOWN_TYPE
    assert "'clickstream.page_viewed'" in result.detail


def test_wrong_topic() -> None:
    result = decode(raw("email.sent"), "clickstream", NOW_MS)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.WRONG_TOPIC
    assert result.detail == "email.sent: belongs on the 'email' topic, not on 'clickstream'"


def test_missing_field() -> None:
    result = rejected("clickstream.page_view", page=...)
    assert result == Rejection(
        Reason.MISSING_FIELD, "clickstream.page_view: field 'page' is missing (required string)"
    )


@pytest.mark.parametrize("blank", [None, "", ...])
def test_blank_required_field_is_missing(blank: object) -> None:
    result = rejected("email.opened", message_id=blank)
    assert result.reason is Reason.MISSING_FIELD
    assert "'message_id'" in result.detail


@pytest.mark.parametrize("common", ["event_id", "type", "timestamp"])
@pytest.mark.parametrize("blank", [None, "", ...])
def test_blank_common_field_is_missing(common: str, blank: object) -> None:
    result = rejected("survey.nps", **{common: blank})
    assert result.reason is Reason.MISSING_FIELD
    assert f"'{common}'" in result.detail


def test_wrong_type() -> None:
    result = rejected("survey.nps", score="9")
    assert result == Rejection(
        Reason.WRONG_TYPE,
        "survey.nps: field 'score' has the wrong type: expected an integer 0..10, got string '9'",
    )


def test_out_of_range() -> None:
    result = rejected("email.bounced", bounce_type="permanent")
    assert result.reason is Reason.OUT_OF_RANGE
    assert result.detail == (
        "email.bounced: field 'bounce_type' is out of range: "
        "expected one of blocked, hard, soft, got string 'permanent'"
    )


def test_string_too_long() -> None:
    result = rejected("clickstream.page_view", page="/" + "p" * 256)
    assert result.reason is Reason.STRING_TOO_LONG
    assert "clickstream.page_view: field 'page' is too long" in result.detail
    assert "257-char string '/ppp" in result.detail


def test_invalid_timestamp() -> None:
    result = rejected("clickstream.click", timestamp="2024-01-01T00:00:00")
    assert result.reason is Reason.INVALID_TIMESTAMP
    assert result.detail.startswith("clickstream.click: field 'timestamp' is invalid: no UTC offset")


def test_future_timestamp() -> None:
    result = rejected("clickstream.click", timestamp="2024-01-01T00:05:00.001Z")
    assert result.reason is Reason.FUTURE_TIMESTAMP
    assert "field 'timestamp' is 300001 ms ahead of now" in result.detail


def test_every_reason_has_a_test() -> None:
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert {reason.value for reason in Reason} <= tested


# --- common fields


@pytest.mark.parametrize(("ahead_ms", "accepted"), [(300_000, True), (300_001, False), (0, True)])
def test_future_edge(ahead_ms: int, accepted: bool) -> None:
    result = decoded("clickstream.click", timestamp=(NOW_MS + ahead_ms) / 1000)
    assert isinstance(result, Event) is accepted


def test_old_events_are_not_rejected_here() -> None:
    # lateness depends on the windows (retention), so the core decides it, not the decoder
    assert isinstance(decoded("clickstream.click", timestamp=0), Event)


@pytest.mark.parametrize(
    ("event_id", "reason"),
    [
        ("e" * 128, None),
        ("e" * 129, Reason.STRING_TOO_LONG),
        (42, Reason.WRONG_TYPE),
        (["e-1"], Reason.WRONG_TYPE),
    ],
)
def test_event_id(event_id: object, reason: Reason | None) -> None:
    result = decoded("survey.ces", event_id=event_id)
    if reason is None:
        assert isinstance(result, Event)
        assert result.event_id == event_id
    else:
        assert isinstance(result, Rejection)
        assert result.reason is reason
        assert result.detail.startswith("survey.ces: field 'event_id'")


@pytest.mark.parametrize(
    ("prop", "reason"),
    [("p" * 256, None), ("p" * 257, Reason.STRING_TOO_LONG), (7, Reason.WRONG_TYPE)],
)
def test_property(prop: object, reason: Reason | None) -> None:
    result = decoded("survey.ces", property=prop)
    if reason is None:
        assert isinstance(result, Event)
        assert result.property == prop
    else:
        assert isinstance(result, Rejection)
        assert result.reason is reason
        assert "field 'property'" in result.detail


@pytest.mark.parametrize("event_type", [7, ["survey.nps"], {"t": 1}, True])
def test_type_not_a_string(event_type: object) -> None:
    result = rejected("survey.nps", type=event_type)
    assert result.reason is Reason.WRONG_TYPE
    assert result.detail.startswith("event: field 'type' has the wrong type")


def test_event_fields_hold_only_type_specific_fields() -> None:
    result = decoded("survey.nps", property="p", survey_id="s-1")
    assert isinstance(result, Event)
    assert result.fields == {"response_id": "r-1", "score": 0, "survey_id": "s-1"}
