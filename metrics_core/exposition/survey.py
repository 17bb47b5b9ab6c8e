"""The survey family's gauges (being built)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from metrics_core.exposition import emit
from metrics_core.exposition.emit import Spec
from metrics_core.exposition.metricset import MetricSet
from metrics_core.exposition.views import FamilyView, WindowView

SPECS: Mapping[str, Spec] = {}


def declare(out: MetricSet) -> None:
    emit.declare(out, SPECS)


def collect(family: FamilyView, windows: Sequence[WindowView], out: MetricSet, cap: int) -> None:
    return None
