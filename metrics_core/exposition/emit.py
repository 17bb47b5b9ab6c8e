"""Declaring a family's metrics from one table, and emitting samples with their labels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metrics_core.exposition.metricset import MetricSet, Values
from metrics_core.exposition.ratios import declare_ratio, put_ratio


@dataclass(frozen=True, slots=True)
class Spec:
    """One metric: help text, labels beyond window/property, and kind.

    kind: "gauge"; "proportion" (a ratio of counts: sample size and Wilson interval);
    "ratio" (any other quotient: sample size only).
    """

    help: str
    extra: tuple[str, ...] = ()
    kind: str = "gauge"


def declare(out: MetricSet, specs: Mapping[str, Spec], windowed: bool = True) -> None:
    base = ("window", "property") if windowed else ("property",)
    for name, spec in specs.items():
        labels = (*base, *spec.extra)
        if spec.kind == "gauge":
            out.declare(name, "gauge", spec.help, labels)
        else:
            declare_ratio(out, name, spec.help, labels, proportion=spec.kind == "proportion")


@dataclass(frozen=True, slots=True)
class Emitter:
    """Adds samples for one window (or none, for gauges of the present) to `out`."""

    out: MetricSet
    specs: Mapping[str, Spec]
    window: str | None

    def _values(self, name: str, prop: str, extra: tuple[str, ...]) -> Values:
        """The label values in `declare`'s order: window (if any), property, the spec's extras."""
        if len(extra) != len(self.specs[name].extra):
            raise ValueError(f"{name} takes labels {self.specs[name].extra}, got {extra}")
        return (self.window, prop, *extra) if self.window else (prop, *extra)

    def gauge(self, name: str, prop: str, value: float | None, *extra: str) -> None:
        """A plain gauge; None is not exported."""
        if value is not None:
            self.out.add_values(name, self._values(name, prop, extra), value)

    def ratio(self, name: str, prop: str, numerator: float, denominator: float, *extra: str) -> None:
        """A ratio with its sample size (and interval, for proportions); 0/0 exports only the size."""
        put_ratio(
            self.out,
            name,
            self._values(name, prop, extra),
            numerator,
            denominator,
            proportion=self.specs[name].kind == "proportion",
        )
