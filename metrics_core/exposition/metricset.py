"""A small builder for metric families that a custom collector yields at scrape time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

Values = tuple[str, ...]  # label values in the order the metric declared its labels


@dataclass
class _Family:
    kind: str
    help: str
    labels: tuple[str, ...]
    samples: list[tuple[Values, float]] = field(default_factory=list)
    buckets: list[tuple[Values, list[tuple[str, float]], float]] = field(default_factory=list)


class MetricSet:
    """Collects samples by metric name, then yields one family per name (in declaration order)."""

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}

    def declare(self, name: str, kind: str, help_text: str, labels: Sequence[str]) -> None:
        if name not in self._families:
            self._families[name] = _Family(kind, help_text, tuple(labels))

    def add(self, name: str, labels: Mapping[str, str], value: float) -> None:
        family = self._families[name]
        family.samples.append((tuple(labels[n] for n in family.labels), value))

    def add_values(self, name: str, values: Values, value: float) -> None:
        """`add` with the label values already in declaration order (the per-window hot path)."""
        self._families[name].samples.append((values, value))

    def add_histogram(
        self,
        name: str,
        labels: Mapping[str, str],
        buckets: list[tuple[str, float]],
        sum_value: float,
    ) -> None:
        family = self._families[name]
        family.buckets.append((tuple(labels[n] for n in family.labels), buckets, sum_value))

    def families(self) -> Iterator[Metric]:
        for name, fam in self._families.items():
            metric: Metric
            if fam.kind == "counter":
                metric = CounterMetricFamily(name, fam.help, labels=fam.labels)
                for values, value in fam.samples:
                    metric.add_metric(values, value)
            elif fam.kind == "histogram":
                metric = HistogramMetricFamily(name, fam.help, labels=fam.labels)
                for values, buckets, sum_value in fam.buckets:
                    metric.add_metric(values, buckets, sum_value)
            else:
                metric = GaugeMetricFamily(name, fam.help, labels=fam.labels)
                for values, value in fam.samples:
                    metric.add_metric(values, value)
            yield metric
