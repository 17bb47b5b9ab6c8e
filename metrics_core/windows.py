"""Window and bucket math: pure functions of integers (milliseconds since the epoch).

A window W is served from one *tier*: buckets of a fixed width b <= W/60, aligned to the
epoch. Bucket k covers [k*b, (k+1)*b). Window W at `now` reads the buckets that overlap
(now - W, now], so its edge is blurred by at most one bucket, as DESIGN §4 allows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|w)\s*$")

# Bucket widths a tier may take: "nice" widths, so buckets align with clock minutes and hours.
_LADDER_MS = tuple(
    n * _UNITS_MS[u]
    for n, u in (
        (1, "s"), (5, "s"), (10, "s"), (15, "s"), (30, "s"),
        (1, "m"), (2, "m"), (5, "m"), (10, "m"), (15, "m"), (20, "m"), (30, "m"),
        (1, "h"), (2, "h"), (3, "h"), (4, "h"), (6, "h"), (12, "h"), (1, "d"),
    )
)  # fmt: skip

RETENTION_MARGIN_MS = _UNITS_MS["h"]


def parse_duration_ms(text: str) -> int:
    """Parse `5m`, `1h`, `30d`, `250ms` into milliseconds.

    >>> parse_duration_ms("5m")
    300000
    """
    match = _DURATION.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 5m, 1h, 24h, 7d)")
    return int(match.group(1)) * _UNITS_MS[match.group(2)]


def bucket_width_ms(window_ms: int) -> int:
    """The widest ladder width that is at most window/60 (and at least 1 s).

    >>> [bucket_width_ms(parse_duration_ms(w)) // 1000 for w in ("5m", "1h", "24h", "7d", "30d")]
    [5, 60, 1200, 7200, 43200]
    """
    limit = window_ms // 60
    fitting = [w for w in _LADDER_MS if w <= limit]
    return fitting[-1] if fitting else _LADDER_MS[0]


@dataclass(frozen=True, slots=True)
class Window:
    """A rolling window: its label (`5m`), length and the bucket width it is read from."""

    label: str
    window_ms: int
    bucket_ms: int

    @classmethod
    def parse(cls, label: str) -> Window:
        window_ms = parse_duration_ms(label)
        return cls(label.strip(), window_ms, bucket_width_ms(window_ms))


def parse_windows(text: str | Iterable[str]) -> tuple[Window, ...]:
    """Parse `5m,1h,24h` into windows, shortest first; duplicates are an error."""
    labels = text.split(",") if isinstance(text, str) else list(text)
    windows = sorted((Window.parse(label) for label in labels if label.strip()), key=lambda w: w.window_ms)
    if not windows:
        raise ValueError("at least one window is needed")
    if len({w.window_ms for w in windows}) != len(windows):
        raise ValueError(f"duplicate windows in {text!r}")
    return tuple(windows)


def tiers(windows: Iterable[Window]) -> tuple[int, ...]:
    """Distinct bucket widths (ms), ascending: every event is counted once per tier."""
    return tuple(sorted({w.bucket_ms for w in windows}))


def tier_span_ms(windows: Iterable[Window], bucket_ms: int) -> int:
    """The longest window read from a tier: how far back its buckets are worth keeping."""
    return max(w.window_ms for w in windows if w.bucket_ms == bucket_ms)


def retention_ms(windows: Iterable[Window]) -> int:
    """The retention horizon: longest window + 1 h. Older events are late and ignored."""
    return max(w.window_ms for w in windows) + RETENTION_MARGIN_MS


def bucket_start(ts_ms: int, bucket_ms: int) -> int:
    """Start of the bucket holding `ts_ms`.

    >>> bucket_start(1_000_123, 5_000)
    1000000
    """
    return ts_ms - ts_ms % bucket_ms


def window_buckets(now_ms: int, window: Window) -> range:
    """Bucket starts that overlap (now - W, now], oldest first.

    >>> buckets = window_buckets(62_000, Window("1m", 60_000, 10_000))
    >>> buckets[0], buckets[-1], len(buckets)
    (0, 60000, 7)
    """
    first = bucket_start(now_ms - window.window_ms + 1, window.bucket_ms)
    last = bucket_start(now_ms, window.bucket_ms)
    return range(first, last + 1, window.bucket_ms)


def bucket_expiry_ms(start_ms: int, bucket_ms: int, span_ms: int) -> int:
    """When a bucket can go: once no window of its tier can read it any more."""
    return start_ms + bucket_ms + span_ms + RETENTION_MARGIN_MS


def is_readable(start_ms: int, bucket_ms: int, span_ms: int, now_ms: int) -> bool:
    """Whether any window of the tier still reads this bucket (writes to dead buckets are skipped)."""
    return start_ms + bucket_ms > now_ms - span_ms
