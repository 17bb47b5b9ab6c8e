"""Ratios with their evidence: the value, the sample size behind it and a 95 % interval.

For a ratio `pulse_x_ratio` the exporter also serves `pulse_x_ratio_sample_size` (its
denominator, exported even when 0) and, for proportions, `pulse_x_ratio_lower` and
`pulse_x_ratio_upper` (the Wilson score interval), so alerts can demand enough evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from metrics_core.exposition.metricset import MetricSet, Values
from metrics_core.formulas import ratio, wilson_interval

SAMPLE_SIZE, LOWER, UPPER = "_sample_size", "_lower", "_upper"


def declare_ratio(
    out: MetricSet, name: str, help_text: str, labels: Sequence[str], proportion: bool = True
) -> None:
    """Declare the ratio gauge with its sample-size gauge and, for proportions, its interval."""
    out.declare(name, "gauge", help_text, labels)
    out.declare(name + SAMPLE_SIZE, "gauge", f"Sample size (denominator) behind {name}.", labels)
    if proportion:
        out.declare(name + LOWER, "gauge", f"Lower bound of the 95 % Wilson interval of {name}.", labels)
        out.declare(name + UPPER, "gauge", f"Upper bound of the 95 % Wilson interval of {name}.", labels)


def put_ratio(
    out: MetricSet,
    name: str,
    values: Values,
    numerator: float,
    denominator: float,
    proportion: bool = True,
) -> None:
    """numerator / denominator with its sample size; nothing but the sample size when it is 0.

    `values`: the label values in the order `declare_ratio` was given the labels.
    """
    out.add_values(name + SAMPLE_SIZE, values, denominator)
    value = ratio(numerator, denominator)
    if value is None:
        return
    out.add_values(name, values, value)
    interval = wilson_interval(numerator, denominator) if proportion else None
    if interval is not None:
        out.add_values(name + LOWER, values, interval[0])
        out.add_values(name + UPPER, values, interval[1])
