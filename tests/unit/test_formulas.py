"""Metric formulas: pure functions of counts; a zero denominator gives None (not exported)."""

from __future__ import annotations

from metrics_core.formulas import bounce_ratio, click_through_ratio, mean_duration_seconds, ratio


def test_ratio() -> None:
    assert ratio(3, 4) == 0.75
    assert ratio(0, 4) == 0.0  # a real zero is exported
    assert ratio(1, 0) is None
    assert ratio(0, 0) is None


def test_bounce_ratio() -> None:
    assert bounce_ratio(1, 4) == 0.25
    assert bounce_ratio(0, 0) is None


def test_mean_duration_seconds() -> None:
    # (300 000 + 0 + 180 000 + 2 200 000) ms = 2 680 s over 4 sessions = 670 s
    assert mean_duration_seconds(2_680_000, 4) == 670.0
    assert mean_duration_seconds(90_000, 3) == 30.0
    assert mean_duration_seconds(0, 2) == 0.0  # two bounces
    assert mean_duration_seconds(0, 0) is None


def test_click_through_ratio() -> None:
    assert click_through_ratio(1, 2) == 0.5
    assert click_through_ratio(1, 0) is None
