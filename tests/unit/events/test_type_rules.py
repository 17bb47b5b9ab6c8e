"""decode: the rules of single types: visitor ids, counts, scores, flags, money, enums."""

from __future__ import annotations

from typing import Any

import pytest

from metrics_core.events import Event, Reason, Rejection, decode_json
from tests.unit.events.examples import NOW_MS, decoded, message, rejected

# --- type-specific rules


@pytest.mark.parametrize(
    ("ids", "accepted"),
    [
        ({"user_id": "u-1", "anonymous_id": ...}, True),
        ({"user_id": ..., "anonymous_id": "a-1"}, True),
        ({"user_id": "u-1", "anonymous_id": "a-1"}, True),
        ({"user_id": ..., "anonymous_id": ...}, False),
        ({"user_id": None, "anonymous_id": ""}, False),
    ],
)
@pytest.mark.parametrize("event_type", ["clickstream.page_view", "clickstream.conversion"])
def test_user_id_or_anonymous_id(event_type: str, ids: dict[str, Any], accepted: bool) -> None:
    result = decoded(event_type, **ids)
    if accepted:
        assert isinstance(result, Event)
    else:
        assert result == Rejection(
            Reason.MISSING_FIELD,
            f"{event_type}: field 'user_id' or 'anonymous_id' is missing (required string)",
        )


def test_one_of_members_are_still_checked() -> None:
    result = rejected("clickstream.page_view", user_id=12)
    assert result.reason is Reason.WRONG_TYPE
    assert "'user_id'" in result.detail


def test_feature_used_needs_user_id_not_anonymous_id() -> None:
    result = rejected("clickstream.feature_used", user_id=..., anonymous_id="a-1")
    assert result.reason is Reason.MISSING_FIELD


@pytest.mark.parametrize(
    ("count", "reason"),
    [
        (..., None),
        (1, None),
        (250, None),
        (2**53 - 1, None),
        (2**53, Reason.OUT_OF_RANGE),  # no longer exact in a Redis (Lua) double
        (0, Reason.OUT_OF_RANGE),
        (-3, Reason.OUT_OF_RANGE),
        (2.0, Reason.WRONG_TYPE),  # strict: a float in an int field is a producer bug
        (True, Reason.WRONG_TYPE),
        ("2", Reason.WRONG_TYPE),
    ],
)
def test_count(count: object, reason: Reason | None) -> None:
    result = decoded("social.share", count=count)
    if reason is None:
        assert isinstance(result, Event)
        assert result.fields["count"] == (1 if count is ... else count)
    else:
        assert isinstance(result, Rejection)
        assert result.reason is reason
        assert "field 'count'" in result.detail


@pytest.mark.parametrize(
    ("score", "scale_max", "reason"),
    [
        (5, ..., None),
        (1, ..., None),
        (6, ..., Reason.OUT_OF_RANGE),
        (6, 5, Reason.OUT_OF_RANGE),
        (6, 7, None),
        (7, 7, None),
        (8, 7, Reason.OUT_OF_RANGE),
        (10, 10, None),
        (11, 10, Reason.OUT_OF_RANGE),
        (0, 10, Reason.OUT_OF_RANGE),
        (3, 6, Reason.OUT_OF_RANGE),
        (3, 5.0, Reason.WRONG_TYPE),
        (3, "5", Reason.WRONG_TYPE),
        (True, 5, Reason.WRONG_TYPE),
    ],
)
def test_csat_score_within_its_scale(score: object, scale_max: object, reason: Reason | None) -> None:
    result = decoded("survey.csat", score=score, scale_max=scale_max)
    if reason is None:
        assert isinstance(result, Event)
        assert result.fields["scale_max"] == (5 if scale_max is ... else scale_max)
    else:
        assert isinstance(result, Rejection)
        assert result.reason is reason


def test_csat_detail_names_the_scale() -> None:
    result = rejected("survey.csat", score=6)
    assert result.detail == (
        "survey.csat: field 'score' is out of range: "
        "expected an integer 1..5 (the event's scale_max), got integer 6"
    )


@pytest.mark.parametrize(
    ("event_type", "good", "bad"),
    [("survey.nps", [0, 10], [-1, 11]), ("survey.ces", [1, 7], [0, 8])],
)
def test_score_ranges(event_type: str, good: list[int], bad: list[int]) -> None:
    for score in good:
        assert isinstance(decoded(event_type, score=score), Event)
    for score in bad:
        assert rejected(event_type, score=score).reason is Reason.OUT_OF_RANGE


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("survey.nps", "score"),
        ("social.followers", "followers"),
        ("social.like", "count"),
        ("customer.order_placed", "amount"),
        ("email.converted", "value"),
    ],
)
@pytest.mark.parametrize("flag", [True, False])
def test_bool_is_never_a_number(event_type: str, field: str, flag: bool) -> None:
    result = rejected(event_type, **{field: flag})
    assert result.reason is Reason.WRONG_TYPE
    assert f"field '{field}'" in result.detail


@pytest.mark.parametrize(
    ("event_type", "field"),
    [("email.opened", "machine"), ("email.clicked", "bot"), ("social.mention", "own")],
)
@pytest.mark.parametrize("value", [1, 0, "true"])
def test_flags_take_only_true_or_false(event_type: str, field: str, value: object) -> None:
    assert rejected(event_type, **{field: value}).reason is Reason.WRONG_TYPE
    result = decoded(event_type, **{field: True})
    assert isinstance(result, Event)
    assert result.fields[field] is True


@pytest.mark.parametrize(
    ("currency", "reason"),
    [
        ("EUR", None),
        ("usd", Reason.OUT_OF_RANGE),
        ("US", Reason.OUT_OF_RANGE),
        ("USDT", Reason.OUT_OF_RANGE),
        ("U$D", Reason.OUT_OF_RANGE),
        ("ÜSD", Reason.OUT_OF_RANGE),
        (840, Reason.WRONG_TYPE),
    ],
)
def test_currency(currency: object, reason: Reason | None) -> None:
    result = decoded("customer.order_placed", currency=currency)
    if reason is None:
        assert isinstance(result, Event)
    else:
        assert isinstance(result, Rejection)
        assert result.reason is reason
        assert "field 'currency'" in result.detail


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        (0, None),
        (0.0, None),
        (1234.56, None),
        (-0.01, Reason.OUT_OF_RANGE),
        (1e300, Reason.OUT_OF_RANGE),
        ("12.50", Reason.WRONG_TYPE),
    ],
)
def test_amount(amount: object, reason: Reason | None) -> None:
    result = decoded("customer.order_placed", amount=amount)
    assert (result.reason if isinstance(result, Rejection) else None) is reason


def test_non_finite_numbers_from_a_parsed_object() -> None:
    # JSON has no nan/inf, but decode_json also serves objects parsed elsewhere
    for bad in (float("nan"), float("inf"), -float("inf")):
        result = decode_json(message("email.converted", value=bad), "email", NOW_MS)
        assert isinstance(result, Rejection)
        assert result.reason is Reason.OUT_OF_RANGE


@pytest.mark.parametrize(
    ("event_type", "field", "allowed"),
    [
        ("email.bounced", "bounce_type", ["hard", "soft", "blocked"]),
        ("email.unsubscribed", "scope", ["global", "group"]),
        ("customer.subscription_cancelled", "reason", ["voluntary", "involuntary"]),
    ],
)
def test_enums(event_type: str, field: str, allowed: list[str]) -> None:
    for value in allowed:
        result = decoded(event_type, **{field: value})
        assert isinstance(result, Event)
        assert result.fields[field] == value
    assert rejected(event_type, **{field: allowed[0].upper()}).reason is Reason.OUT_OF_RANGE
    assert rejected(event_type, **{field: 1}).reason is Reason.WRONG_TYPE
    assert rejected(event_type, **{field: "x" * 300}).reason is Reason.STRING_TOO_LONG


def test_followers_snapshot_may_be_zero_but_not_negative() -> None:
    assert isinstance(decoded("social.followers", followers=0), Event)
    assert rejected("social.followers", followers=-1).reason is Reason.OUT_OF_RANGE


# --- details never carry a whole value


def test_detail_quotes_at_most_40_chars_of_a_value() -> None:
    secret = "alice@example.com " * 100
    for result in (
        rejected("clickstream.page_view", page=secret),
        rejected("clickstream.page_view", type=secret),
        rejected("clickstream.page_view", event_id=secret),
        rejected("clickstream.page_view", timestamp=secret),
    ):
        assert secret[:41] not in result.detail
        assert len(result.detail) < 300


def test_detail_of_a_huge_integer_is_short() -> None:
    result = decode_json(message("survey.nps", score=10**5000), "survey", NOW_MS)
    assert isinstance(result, Rejection)
    assert result.reason is Reason.OUT_OF_RANGE
    assert "integer of 16610 bits" in result.detail


def test_detail_of_a_container_names_only_its_size() -> None:
    result = rejected("survey.nps", score=[1, 2, 3])
    assert result.detail.endswith("got array of 3 items")
