"""Window and bucket math: durations, tier widths, the buckets a window reads, retention."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics_core.windows import (
    RETENTION_MARGIN_MS,
    Window,
    bucket_start,
    bucket_width_ms,
    is_readable,
    parse_duration_ms,
    parse_windows,
    retention_ms,
    tier_span_ms,
    tiers,
    window_buckets,
)

S, M, H, D = 1000, 60_000, 3_600_000, 86_400_000


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        ("250ms", 250),
        ("1s", 1000),
        ("5m", 300_000),  # 5 * 60 000
        ("1h", 3_600_000),  # 60 * 60 000
        ("24h", 86_400_000),  # 24 * 3 600 000
        ("7d", 604_800_000),  # 7 * 86 400 000
        ("30d", 2_592_000_000),  # 30 * 86 400 000
        ("2w", 1_209_600_000),  # 2 * 7 * 86 400 000
        (" 15 m ", 900_000),  # blanks around and between are fine: 15 * 60 000
    ],
)
def test_parse_duration_ms_valid(text: str, expected_ms: int) -> None:
    assert parse_duration_ms(text) == expected_ms


@pytest.mark.parametrize("text", ["", "5", "m", "0m", "-5m", "5M", "1.5h", "5 min", "5y", "1h30m"])
def test_parse_duration_ms_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ms(text)


@pytest.mark.parametrize(
    ("label", "bucket_s"),
    [
        ("5m", 5),  # 300 s / 60 = 5 s, on the ladder
        ("1h", 60),  # 3600 s / 60 = 60 s
        ("24h", 1200),  # 86 400 s / 60 = 1440 s = 24 min -> widest ladder step <= 24 min is 20 min
        ("7d", 7200),  # 604 800 s / 60 = 10 080 s = 2.8 h -> 2 h
        ("30d", 43200),  # 2 592 000 s / 60 = 43 200 s = 12 h, on the ladder
    ],
)
def test_bucket_width_of_default_windows(label: str, bucket_s: int) -> None:
    window_ms = parse_duration_ms(label)
    assert bucket_width_ms(window_ms) == bucket_s * 1000
    assert bucket_width_ms(window_ms) <= window_ms / 60


def test_bucket_width_floor_is_one_second() -> None:
    # 30 s / 60 = 0.5 s is below the narrowest ladder step: 1 s is used (the 1-second grain)
    assert bucket_width_ms(30_000) == 1000


def test_parse_windows_sorts_and_rejects_duplicates() -> None:
    windows = parse_windows("1h, 5m,24h")
    assert [w.label for w in windows] == ["5m", "1h", "24h"]
    assert windows[0] == Window("5m", 300_000, 5_000)
    with pytest.raises(ValueError, match="duplicate"):
        parse_windows("60m,1h")  # both are 3 600 000 ms
    with pytest.raises(ValueError, match="at least one"):
        parse_windows(" , ")


def test_tiers_spans_and_retention() -> None:
    windows = parse_windows("5m,1h,24h,7d,30d")
    assert tiers(windows) == (5 * S, 60 * S, 20 * M, 2 * H, 12 * H)
    assert tier_span_ms(windows, 20 * M) == 24 * H
    assert retention_ms(windows) == 30 * D + H  # longest window + 1 h: 2 592 000 000 + 3 600 000
    assert retention_ms(windows) == 2_595_600_000
    assert RETENTION_MARGIN_MS == H


def test_tiers_share_a_width() -> None:
    # 5m and 6m both read 5 s buckets (6m / 60 = 6 s -> 5 s): one tier, spanning the longer 6m
    windows = parse_windows("5m,6m")
    assert tiers(windows) == (5 * S,)
    assert tier_span_ms(windows, 5 * S) == 6 * M


def test_window_buckets_by_hand() -> None:
    five = Window("5m", 5 * M, 5 * S)
    # now = 1 000 002 ms: (now - W, now] = (700 002, 1 000 002]
    # first = start of 700 003 = 700 000; last = start of 1 000 002 = 1 000 000
    buckets = window_buckets(1_000_002, five)
    assert (buckets.start, buckets[-1], len(buckets)) == (700_000, 1_000_000, 61)
    # now = 999 999 (one before a bucket edge): (699 999, 999 999] is exactly 60 buckets
    # first = start of 700 000 = 700 000; last = start of 999 999 = 995 000
    buckets = window_buckets(999_999, five)
    assert (buckets.start, buckets[-1], len(buckets)) == (700_000, 995_000, 60)


def test_bucket_start() -> None:
    assert bucket_start(1_000_123, 5_000) == 1_000_000  # 1 000 123 - 1 000 123 % 5 000 (= 123)
    assert bucket_start(1_000_000, 5_000) == 1_000_000


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    now_ms=st.integers(min_value=10**12, max_value=2 * 10**12),
    label=st.sampled_from(["1m", "5m", "7m", "1h", "90m", "24h", "7d", "30d"]),
    data=st.data(),
)
def test_window_buckets_cover_the_window(now_ms: int, label: str, data: st.DataObject) -> None:
    window = Window.parse(label)
    w, b = window.window_ms, window.bucket_ms
    buckets = window_buckets(now_ms, window)
    # every event time in (now - W, now] falls in a listed bucket
    ts = data.draw(st.integers(min_value=now_ms - w + 1, max_value=now_ms))
    assert bucket_start(ts, b) in buckets
    assert bucket_start(now_ms - w + 1, b) == buckets[0]  # the oldest edge
    assert bucket_start(now_ms, b) == buckets[-1]  # the newest edge
    # the edge is blurred by less than one bucket: the oldest bucket starts after now - W - b
    assert now_ms - w - b < buckets[0] <= now_ms - w + 1
    # at most one extra bucket: the listed span is W, or W + one bucket (b divides every W here)
    span = len(buckets) * b
    assert w % b == 0
    assert span - w in (0, b)
    assert len(buckets) <= w // b + 1


def test_is_readable() -> None:
    # tier of 5 s buckets read by a 5m window; now = 1 000 000
    # a bucket is readable while start + 5 000 > 1 000 000 - 300 000 = 700 000
    assert is_readable(700_000, 5_000, 300_000, 1_000_000)  # ends at 705 000 > 700 000
    assert not is_readable(695_000, 5_000, 300_000, 1_000_000)  # ends at 700 000: fully outside
    assert is_readable(1_000_000, 5_000, 300_000, 1_000_000)  # the bucket holding now
