"""Event time on the wire (RFC 3339 with offset, or Unix epoch seconds) → integer epoch ms."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

# Every accepted time lies in [1970-01-01T00:00:00Z, 10000-01-01T00:00:00Z): event times are
# non-negative epoch ms everywhere downstream, and year 10000 is datetime's own limit.
MAX_EPOCH_S = 253_402_300_800
MAX_EPOCH_MS = MAX_EPOCH_S * 1000

_NAIVE_EPOCH = datetime(1970, 1, 1)
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
    """Strict RFC 3339 `date-time` → epoch ms, without building a datetime per event.

    Python's fromisoformat alone is too lenient (it takes ISO week dates, basic format,
    '+0200', a naive time) and, with the datetime arithmetic after it, costs ~1 µs. Here the
    shape is checked by hand, the whole second is looked up in a small cache (events arrive
    clustered in time, so nearly every lookup hits), and the fraction and offset are added.
    Accepted: 'T', 't' or ' ' as separator (RFC 3339 §5.6 note), 'Z', 'z' or ±hh:mm, and any
    number of fractional digits (digits past the ms do not change the floor).
    Rejected: the leap second ':60' (datetime has none; no real source sends one).
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
    offset_ms, offset_chars = _offset(text)
    fraction = text[_SECONDS_END : len(text) - offset_chars]
    ms = _second_ms(text[:_SECONDS_END]) - offset_ms
    if fraction:
        if fraction[0] != "." or not fraction[1:].isdigit():
            raise InvalidTimestamp("not RFC 3339: bad seconds or fractional seconds")
        ms += _FRACTION_MS[fraction[1:4]]
    if not 0 <= ms < MAX_EPOCH_MS:
        raise InvalidTimestamp("outside 1970-01-01T00:00:00Z ≤ t < 10000-01-01T00:00:00Z")
    return ms


# the first 1..3 fractional digits → ms: ".5" is 500, ".05" 50 (a lookup beats int() here)
_FRACTION_MS = {f"{ms:03d}"[:width]: ms for width in (3, 2, 1) for ms in range(0, 1000, 10 ** (3 - width))}


def _offset(text: str) -> tuple[int, int]:
    """The UTC offset of `text` in ms (to subtract) and the length of its suffix."""
    last = text[-1]
    if last == "Z" or last == "z":
        return 0, 1
    sign, hours, colon, minutes = text[-6], text[-5:-3], text[-3], text[-2:]
    if sign not in "+-" or colon != ":" or not hours.isdigit() or not minutes.isdigit():
        raise InvalidTimestamp("no UTC offset ('Z' or ±hh:mm): a local time is ambiguous")
    if hours > "23" or minutes > "59":  # both are two ASCII digits here: text order is number order
        raise InvalidTimestamp("not a real date and time (offset out of range)")
    offset_ms = (int(hours) * 60 + int(minutes)) * 60_000
    return (offset_ms if sign == "+" else -offset_ms), 6


@lru_cache(maxsize=4096)
def _second_ms(date_time: str) -> int:
    """'YYYY-MM-DDTHH:MM:SS' (any separator) read as UTC → epoch ms; raises if no real time.

    Cached: a stream's events share their seconds, so the calendar work is done once a second.
    """
    digits = date_time[0:4] + date_time[5:7] + date_time[8:10]
    digits += date_time[11:13] + date_time[14:16] + date_time[17:19]
    if len(digits) != 14 or not digits.isdigit():
        raise InvalidTimestamp("not RFC 3339 (expected e.g. '2024-01-01T00:00:00Z')")
    try:
        moment = datetime.fromisoformat(f"{date_time[:10]}T{date_time[11:]}")
    except ValueError:
        raise InvalidTimestamp("not a real date and time (a part is out of range)") from None
    return (moment - _NAIVE_EPOCH) // _ONE_MS
