"""The exporter's custom collector: reads Redis at scrape time and keeps no state between scrapes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from metrics_core.events.model import FAMILIES
from metrics_core.exposition import pipeline, web
from metrics_core.exposition.metricset import MetricSet
from metrics_core.store.base import Reader, ShardId
from metrics_core.windows import Window, window_buckets

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
        web.declare(out)
        for family in FAMILIES:
            pipeline.collect_family(
                self._topic_of(family), family, self._reader.pipeline(by_family[family]), out
            )
        self._collect_web(by_family["clickstream"], now_ms, out)
        yield from out.families()

    def _collect_web(self, shards: Sequence[ShardId], now_ms: int, out: MetricSet) -> None:
        if not shards:
            return
        reads = []
        for window in self._windows:
            starts = list(window_buckets(now_ms, window))
            reads.append((window, starts, self._reader.counters(shards, window.bucket_ms, starts)))
        # a property seen in any window gets its counts (0) in every window: no gaps on dashboards
        properties = set().union(*(web.properties(counters) for _, _, counters in reads))
        for window, starts, counters in reads:

            def uniques(
                groups: Mapping[str, Sequence[str]], w: Window = window, s: list[int] = starts
            ) -> dict[str, int]:
                return self._reader.uniques(shards, w.bucket_ms, s, groups)

            web.collect_window(window.label, counters, uniques, self._cap, out, properties)
