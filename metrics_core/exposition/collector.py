"""The exporter's custom collector: reads Redis at scrape time and keeps no state between scrapes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics_core.events.model import FAMILIES
from metrics_core.exposition import pipeline
from metrics_core.exposition.metricset import MetricSet
from metrics_core.exposition.views import read_family
from metrics_core.registry import EXPOSITIONS
from metrics_core.store.base import Reader, ShardId
from metrics_core.windows import Window

log = logging.getLogger(__name__)


class PulseCollector(Collector):
    """Every Pulse gauge and pipeline metric, computed from the store when Prometheus scrapes.

    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> registry.register(PulseCollector(reader, windows, topic_of=settings.topic))  # doctest: +SKIP
    """

    def __init__(
        self,
        reader: Reader,
        windows: Sequence[Window],
        topic_of: Callable[[str], str],
        label_cap: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._reader = reader
        self._windows = windows
        self._topic_of = topic_of
        self._cap = label_cap
        self._clock = clock

    def describe(self) -> list[Metric]:
        return []  # names depend on the data; an empty describe keeps registration from scraping

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("pulse_up", "1 when the exporter can read the store, else 0.")
        try:
            metrics = list(self._collect_all())
        except Exception:  # the scrape must still answer: report down, log why
            log.exception("scrape failed reading the store")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _collect_all(self) -> Iterator[Metric]:
        now_ms = int(self._clock() * 1000)
        by_family: dict[str, list[ShardId]] = {f: [] for f in FAMILIES}
        for shard in self._reader.shards():
            by_family.setdefault(shard.family, []).append(shard)
        out = MetricSet()
        pipeline.declare(out)
        for module in EXPOSITIONS.values():
            module.declare(out)
        for family in FAMILIES:
            shards = by_family[family]
            pipeline.collect_family(self._topic_of(family), family, self._reader.pipeline(shards), out)
            exposition = EXPOSITIONS.get(family)
            if exposition is not None and shards:
                family_view, windows = read_family(self._reader, shards, self._windows, now_ms)
                exposition.collect(family_view, windows, out, self._cap)
        yield from out.families()
