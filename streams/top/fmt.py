"""How `pulse top` writes numbers: counts, percentages, intervals, durations; "—" when missing."""

from __future__ import annotations

import math
from typing import TypeGuard

MISSING = "—"


def _known(value: float | None) -> TypeGuard[float]:
    return value is not None and math.isfinite(value)


def _grouped(text: str) -> str:
    return text.replace(",", " ")  # thousands as in the docs: 12 000


def count(value: float | None) -> str:
    """A count, grouped by thousands.

    >>> count(1234567.0), count(2.5), count(None)
    ('1 234 567', '2.5', '—')
    """
    if not _known(value):
        return MISSING
    return _grouped(f"{int(value):,}" if value == int(value) else f"{value:,.1f}")


def percent(value: float | None) -> str:
    """A ratio (0..1) as a percentage with one decimal.

    >>> percent(0.1234), percent(1.0), percent(None)
    ('12.3 %', '100.0 %', '—')
    """
    if not _known(value):
        return MISSING
    return f"{value * 100:.1f} %"


def percent_between(value: float | None, lower: float | None, upper: float | None) -> str:
    """A ratio with its interval (low–high, in percent) when both bounds are known.

    >>> percent_between(0.5, 0.0946, 0.9054), percent_between(0.5, None, None)
    ('50.0 % (9.5–90.5)', '50.0 %')
    """
    shown = percent(value)
    if shown == MISSING or not (_known(lower) and _known(upper)):
        return shown
    return f"{shown} ({lower * 100:.1f}–{upper * 100:.1f})"


def score_margin(score: float | None, lower: float | None, upper: float | None) -> str:
    """A score ± its margin of error, from the exported bounds (clamped ones: the wider side).

    >>> score_margin(64.0, 52.4, 75.6), score_margin(90.0, 70.0, 100.0), score_margin(12.0, None, None)
    ('64.0 ± 11.6', '90.0 ± 20.0', '12.0')
    """
    if not _known(score):
        return MISSING
    if not (_known(lower) and _known(upper)):
        return f"{score:.1f}"
    return f"{score:.1f} ± {max(upper - score, score - lower):.1f}"


def decimal(value: float | None, places: int = 2) -> str:
    """A plain number with fixed decimals (money, mean scores).

    >>> decimal(1234.5), decimal(5.25, 1), decimal(None)
    ('1 234.50', '5.2', '—')
    """
    if not _known(value):
        return MISSING
    return _grouped(f"{value:,.{places}f}")


def duration(seconds: float | None) -> str:
    """Seconds, the way a person reads them.

    >>> duration(5.04), duration(125), duration(7380), duration(200000), duration(None)
    ('5.0 s', '2m 05s', '2h 03m', '2d 07h', '—')
    """
    if not _known(seconds):
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86_400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86_400}d {whole % 86_400 // 3600:02d}h"
