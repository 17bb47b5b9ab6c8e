"""Metric formulas: pure functions of counts. A ratio with a zero denominator is None (not exported)."""

from __future__ import annotations


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is 0.

    >>> ratio(3, 4), ratio(1, 0)
    (0.75, None)
    """
    return numerator / denominator if denominator > 0 else None


def bounce_ratio(bounced_sessions: int, sessions: int) -> float | None:
    """Single-page-view sessions over sessions started in the window."""
    return ratio(bounced_sessions, sessions)


def mean_duration_seconds(duration_ms_sum: int, sessions: int) -> float | None:
    """Mean session duration; bounces count 0 s (their first and last views coincide).

    >>> mean_duration_seconds(90_000, 3)
    30.0
    """
    return ratio(duration_ms_sum / 1000, sessions)


def click_through_ratio(clicks: int, impressions: int) -> float | None:
    """Clicks over impressions (CTR)."""
    return ratio(clicks, impressions)
