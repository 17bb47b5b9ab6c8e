"""parse_timestamp_ms: RFC 3339 with an offset, or epoch seconds, to integer ms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics_core.events.timestamps import MAX_EPOCH_S, InvalidTimestamp, parse_timestamp_ms

NEW_YEAR_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z, by hand: 19723 days × 86 400 000 ms


@pytest.mark.parametrize(
    ("value", "expected_ms"),
    [
        ("2024-01-01T00:00:00Z", NEW_YEAR_MS),
        ("2024-01-01T02:00:00+02:00", NEW_YEAR_MS),
        ("2023-12-31T19:30:00-04:30", NEW_YEAR_MS),
        ("2024-01-01T00:00:00-00:00", NEW_YEAR_MS),
        ("2024-01-01t00:00:00z", NEW_YEAR_MS),  # RFC 3339 §5.6: case-insensitive
        ("2024-01-01 00:00:00Z", NEW_YEAR_MS),  # RFC 3339 §5.6 note: a space may separate
        ("2024-01-01T00:00:00.123Z", NEW_YEAR_MS + 123),
        ("2024-01-01T00:00:00.123999Z", NEW_YEAR_MS + 123),  # floor, not round
        ("2024-01-01T00:00:00.123456789Z", NEW_YEAR_MS + 123),  # ns precision
        ("2024-01-01T00:00:00.1Z", NEW_YEAR_MS + 100),
        ("2024-01-01T00:00:00.1234+00:00", NEW_YEAR_MS + 123),
        ("2024-01-01T00:00:00." + "9" * 30 + "Z", NEW_YEAR_MS + 999),
        ("2024-02-29T00:00:00Z", NEW_YEAR_MS + 59 * 86_400_000),  # leap day
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T01:00:00+01:00", 0),
        ("9999-12-31T23:59:59.999Z", MAX_EPOCH_S * 1000 - 1),
        (1_704_067_200, NEW_YEAR_MS),
        (1_704_067_200.5, NEW_YEAR_MS + 500),
        (1_704_067_200.001, NEW_YEAR_MS + 1),  # the float is really ...200.000999...: rounded to µs
        (1_704_067_200.0019, NEW_YEAR_MS + 1),  # floor to ms
        (0, 0),
        (0.0, 0),
    ],
)
def test_accepted(value: object, expected_ms: int) -> None:
    assert parse_timestamp_ms(value) == expected_ms


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2024-01-01T00:00:00", "no UTC offset"),  # naive: whose midnight?
        ("2024-01-01T00:00:00.123", "no UTC offset"),
        ("2024-01-01", "not RFC 3339"),
        ("2024-01-01T00:00Z", "not RFC 3339"),
        ("20240101T000000Z", "not RFC 3339"),  # ISO 8601 basic format
        ("2024-W01-1T00:00:00Z", "not RFC 3339"),  # ISO week date
        ("2024-01-01T00:00:00+0200", "no UTC offset"),
        ("2024-01-01T00:00:00+02", "no UTC offset"),
        ("2024-01-01T00:00:00.Z", "fractional"),
        ("2024-01-01T00:00:00,5Z", "fractional"),
        ("2024-01-01T00:00:00.+02:00", "fractional"),
        ("2024-01-01T00:00:0.5Z", "not RFC 3339"),
        ("2024-01-01T00:00:60Z", "out of range"),  # leap second: datetime has none
        ("2024-02-30T00:00:00Z", "out of range"),
        ("2024-13-01T00:00:00Z", "out of range"),
        ("2024-01-01T24:00:00Z", "out of range"),
        ("2024-01-01T00:00:00+24:00", "out of range"),
        ("2024-01-01T00:00:00+01:60", "out of range"),
        ("2024-01-01x00:00:00Z", "not RFC 3339"),
        ("２０２４-01-01T00:00:00Z", "not RFC 3339"),  # fullwidth digits
        ("1969-12-31T23:59:59Z", "outside"),
        ("1970-01-01T00:30:00+01:00", "outside"),
        ("9999-12-31T23:59:59-01:00", "outside"),
        ("0001-01-01T00:00:00+23:59", "outside"),
        ("1704067200", "not RFC 3339"),  # epoch seconds are a number, not a string
        ("", "not RFC 3339"),
        (True, "expected an RFC 3339 string"),  # a bool is no epoch, though Python's bool is an int
        (False, "expected an RFC 3339 string"),
        (None, "expected an RFC 3339 string"),
        ([2024], "expected an RFC 3339 string"),
        (-1, "epoch seconds must be"),
        (-0.001, "epoch seconds must be"),
        (MAX_EPOCH_S, "epoch seconds must be"),
        (1_704_067_200_000, "epoch seconds must be"),  # milliseconds sent as seconds
        (10**400, "epoch seconds must be"),
        (float("nan"), "epoch seconds must be"),
        (float("inf"), "epoch seconds must be"),
    ],
)
def test_rejected(value: object, why: str) -> None:
    with pytest.raises(InvalidTimestamp, match=why):
        parse_timestamp_ms(value)


def test_the_error_is_a_value_error_and_does_not_echo_the_value() -> None:
    secret = "2024-01-01T00:00:00 alice@example.com"
    with pytest.raises(ValueError) as caught:
        parse_timestamp_ms(secret)
    assert "alice" not in str(caught.value)


KEPT_US = {"seconds": 1_000_000, "milliseconds": 1000, "microseconds": 1}


@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
    ),
    separator=st.sampled_from("Tt "),
    precision=st.sampled_from(["seconds", "milliseconds", "microseconds"]),
)
def test_any_aware_datetime_round_trips(moment: datetime, separator: str, precision: str) -> None:
    moment = moment.replace(microsecond=moment.microsecond // KEPT_US[precision] * KEPT_US[precision])
    text = moment.isoformat(sep=separator, timespec=precision)
    if len(text) > 25 and text[-9] in "+-":  # Python writes second-precise offsets: not RFC 3339
        return
    expected_ms = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert parse_timestamp_ms(text) == expected_ms


@given(seconds=st.floats(min_value=0, max_value=MAX_EPOCH_S, exclude_max=True))
def test_float_epoch_is_within_a_ms_of_the_value(seconds: float) -> None:
    ms = parse_timestamp_ms(seconds)
    assert abs(ms - seconds * 1000) <= 1 + seconds * 1e-12
