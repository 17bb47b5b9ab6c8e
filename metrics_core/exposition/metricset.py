"""A small builder for metric families that a custom collector yields at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

Values = tuple[str, ...]  # label values in the order the metric declared its labels


class MetricSet:
    """Collects samples by metric name, then yields one family per name (in declaration order)."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}
        self._labels: dict[str, tuple[str, ...]] = {}
        self._add: dict[str, Callable[[Sequence[str], float], None]] = {}
        self._histograms: dict[str, HistogramMetricFamily] = {}

    def declare(self, name: str, kind: str, help_text: str, labels: Sequence[str]) -> None:
        if name in self._families:
            return
        self._labels[name] = tuple(labels)
        if kind == "histogram":
            histogram = HistogramMetricFamily(name, help_text, labels=labels)
            self._families[name] = self._histograms[name] = histogram
            return
        scalar = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
        family = self._families[name] = scalar(name, help_text, labels=labels)
        self._add[name] = family.add_metric

    def add(self, name: str, labels: Mapping[str, str], value: float) -> None:
        self._add[name]([labels[n] for n in self._labels[name]], value)

    def add_values(self, name: str, values: Values, value: float) -> None:
        """`add` with the label values already in declaration order (the per-window hot path)."""
        self._add[name](values, value)

    def add_histogram(
        self,
        name: str,
        labels: Mapping[str, str],
        buckets: list[tuple[str, float]],
        sum_value: float,
    ) -> None:
        self._histograms[name].add_metric([labels[n] for n in self._labels[name]], buckets, sum_value)

    def families(self) -> Iterator[Metric]:
        yield from self._families.values()
