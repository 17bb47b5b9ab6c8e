"""Metric formulas: pure functions of counts. A ratio with a zero denominator is None (not exported)."""

from __future__ import annotations

import math


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


Z_95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % by default); None without trials.

    Counts above `trials` are clamped (an HLL numerator may exceed its denominator slightly).

    >>> lo, hi = wilson_interval(7, 12)
    >>> round(lo, 4), round(hi, 4)
    (0.3195, 0.8067)
    """
    if trials <= 0:
        return None
    p = min(max(successes / trials, 0.0), 1.0)
    z2 = z * z
    centre = p + z2 / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    scale = 1 + z2 / trials
    return max(0.0, (centre - margin) / scale), min(1.0, (centre + margin) / scale)


def nps(promoters: int, passives: int, detractors: int) -> float | None:
    """Net Promoter Score: % promoters (9-10) − % detractors (0-6), −100..100.

    >>> nps(70, 24, 6)
    64.0
    """
    total = promoters + passives + detractors
    return None if total == 0 else 100.0 * (promoters - detractors) / total


def nps_margin(promoters: int, passives: int, detractors: int, z: float = Z_95) -> float | None:
    """The standard NPS margin of error (in NPS points): z·sqrt(var/n), var = P + D − (P − D)².

    Each response scores +1, 0 or −1; P and D are the promoter and detractor shares.

    >>> round(nps_margin(70, 24, 6), 2)  # var = 0.76 − 0.64² = 0.3504; 1.96·sqrt(0.3504/100)
    11.6
    """
    total = promoters + passives + detractors
    if total == 0:
        return None
    p, d = promoters / total, detractors / total
    return 100.0 * z * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / total)
