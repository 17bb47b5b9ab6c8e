"""Event time on the wire (RFC 3339 with offset, or Unix epoch seconds) → integer epoch ms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# Every accepted time lies in [1970-01-01T00:00:00Z, 10000-01-01T00:00:00Z): event times are
# non-negative epoch ms everywhere downstream, and year 10000 is datetime's own limit.
MAX_EPOCH_S = 253_402_300_800
MAX_EPOCH_MS = MAX_EPOCH_S * 1000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
_SECONDS_END = len("2024-01-01T00:00:00")
_EPOCH_RANGE = f"epoch seconds must be in 0 ≤ s < {MAX_EPOCH_S} (year 10000)"


class InvalidTimestamp(ValueError):
    """A `timestamp` that is neither RFC 3339 with an offset nor Unix epoch seconds."""


def parse_timestamp_ms(value: object) -> int:
    """Return the event time `value` as integer milliseconds since the epoch (floored).

    >>> parse_timestamp_ms("2024-01-01T02:00:00.5+02:00")
    1704067200500
    >>> parse_timestamp_ms(1704067200.5)
    1704067200500
    >>> parse_timestamp_ms("2024-01-01T00:00:00")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    metrics_core.events.timestamps.InvalidTimestamp: no UTC offset ...

    Raises `InvalidTimestamp` (a `ValueError`) with a short reason, never echoing the value.
    """
    if isinstance(value, str):
        return _rfc3339_ms(value)
    # `type(...) is`, not isinstance: a JSON true/false is a bool, and bool is an int
    if type(value) is int:
        if not 0 <= value < MAX_EPOCH_S:
            raise InvalidTimestamp(_EPOCH_RANGE)
        return value * 1000
    if type(value) is float:
        if not 0.0 <= value < MAX_EPOCH_S:  # also rejects nan and ±inf
            raise InvalidTimestamp(_EPOCH_RANGE)
        # float epoch seconds carry binary noise (1704067200.001 is really ...200.000999...):
        # round to whole µs first so that the floor to ms lands where the writer meant.
        return round(value * 1_000_000) // 1000
    raise InvalidTimestamp("expected an RFC 3339 string or Unix epoch seconds (a number)")


def _rfc3339_ms(text: str) -> int:
    """Strict RFC 3339 `date-time`: the shape is checked here, the calendar by fromisoformat.

    Python's fromisoformat alone is too lenient (it takes ISO week dates, basic format,
    '+0200', a naive time), so only the RFC 3339 profile reaches it; it is C and fast.
    Accepted: 'T', 't' or ' ' as separator (RFC 3339 §5.6 note), 'Z' or 'z' or ±hh:mm, and any
    number of fractional digits (truncated: digits past the ms do not change the floor).
    Rejected: leap second ':60' (datetime has no such second; no real source sends one).
    """
    if (
        len(text) < _SECONDS_END
        or text[4] != "-"
        or text[7] != "-"
        or text[10] not in "Tt "
        or text[13] != ":"
        or text[16] != ":"
        or not text.isascii()
    ):
        raise InvalidTimestamp("not RFC 3339 (expected e.g. '2024-01-01T00:00:00Z')")
    body = _strip_offset(text)
    if len(body) != _SECONDS_END and (
        len(body) < _SECONDS_END or body[_SECONDS_END] != "." or not body[20:].isdigit()
    ):
        raise InvalidTimestamp("not RFC 3339: bad seconds or fractional seconds")
    if text[10] == "t" or text[-1] == "z":
        text = text.upper()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidTimestamp("not a real date and time (a part is out of range)") from None
    ms: int = (moment - _EPOCH) // _ONE_MS
    if not 0 <= ms < MAX_EPOCH_MS:
        raise InvalidTimestamp("outside 1970-01-01T00:00:00Z ≤ t < 10000-01-01T00:00:00Z")
    return ms


def _strip_offset(text: str) -> str:
    """`text` without its 'Z' / ±hh:mm suffix; raise if it has none (a naive time)."""
    if text[-1] in "Zz":
        return text[:-1]
    sign, hours, colon, minutes = text[-6], text[-5:-3], text[-3], text[-2:]
    if sign in "+-" and colon == ":" and hours.isdigit() and minutes.isdigit():
        if minutes >= "60":  # fromisoformat would take '+01:60' as +02:00; hours ≥ 24 it refuses
            raise InvalidTimestamp("not a real date and time (offset minutes out of range)")
        return text[:-6]
    raise InvalidTimestamp("no UTC offset ('Z' or ±hh:mm): a local time is ambiguous")
