"""What a family's exposition reads at scrape time: one family's shards, per window or overall.

`read_family` reads every counter bucket a scrape needs in one call: each tier once, over its
longest window (a shorter window of the same tier reads a suffix of those buckets), and the
totals. Unique sets and distributions are then read only in the buckets that hold counters
(of the set's own counts, where the family names them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

from metrics_core.exposition.metricset import MetricSet
from metrics_core.families.changes import SEP, TOTALS
from metrics_core.store.base import Reader, ShardId, UniqueGroup
from metrics_core.windows import Window, window_buckets

ShardBuckets = Mapping[ShardId, Mapping[int, Mapping[str, int]]]  # shard -> start -> {field: value}


@dataclass
class WindowView:
    """One window of one family, summed over its shards: counters, unique sets, distributions."""

    window: Window
    reader: Reader
    now_ms: int
    starts: range  # the window's bucket starts
    found: ShardBuckets  # the tier's non-empty buckets, from the window's first start or earlier

    @property
    def label(self) -> str:
        return self.window.label

    @property
    def start_ms(self) -> int:
        """The window's start, now − W (for "value at window start" lookups)."""
        return self.now_ms - self.window.window_ms

    @cached_property
    def counters(self) -> dict[str, int]:
        return _sum(self.found, self.starts.start)

    @cached_property
    def _present(self) -> dict[ShardId, list[int]]:
        """The window's buckets with counters, by shard."""
        first = self.starts.start
        return {shard: [s for s in found if s >= first] for shard, found in self.found.items()}

    def uniques(
        self, groups: Mapping[str, Sequence[str]], witnesses: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, int]:
        """Sizes of unions of unique sets: `{"shown": ["set-a", "set-b"]}` -> `{"shown": n}`.

        Sets are read only in the buckets with counters (`Changes.unique`). With `witnesses`
        (set code -> the counter codes its family counts with every add: web's
        UNIQUE_WITNESSES), only in the buckets that hold one of the set's own counts.
        """
        if witnesses is None:
            everywhere = [(shard, start) for shard, starts in self._present.items() for start in starts]
            chosen = {group: UniqueGroup(names, everywhere) for group, names in groups.items()}
        else:
            chosen = self._witnessed(groups, witnesses)
        return self.reader.uniques(self.window.bucket_ms, chosen)

    def _witnessed(
        self, groups: Mapping[str, Sequence[str]], witnesses: Mapping[str, Sequence[str]]
    ) -> dict[str, UniqueGroup]:
        """Each group with the buckets holding a count that its sets are always added with."""
        under = self._counts_under(frozenset(c for codes in witnesses.values() for c in codes))
        serves: defaultdict[str, set[str]] = defaultdict(set)  # counter -> groups it witnesses
        for group, names in groups.items():
            for name in names:
                code, _, rest = name.partition(SEP)
                for witness in witnesses[code]:
                    for counter in under.get(witness + SEP + rest, ()):
                        serves[counter].add(group)
        picked: dict[str, list[tuple[ShardId, int]]] = {group: [] for group in groups}
        first = self.starts.start
        for shard, found in self.found.items():
            for start, fields in found.items():
                if start >= first:
                    hit: set[str] = set()
                    for counter in fields:
                        if counter in serves:
                            hit |= serves[counter]
                    bucket = (shard, start)
                    for group in hit:
                        picked[group].append(bucket)
        return {group: UniqueGroup(names, picked[group]) for group, names in groups.items()}

    def _counts_under(self, codes: frozenset[str]) -> dict[str, list[str]]:
        """The window's counters of these codes under their heads `code SEP property` and
        `code SEP property SEP label`: `im SEP shop` -> [`im SEP shop SEP hero`, ...]."""
        under: defaultdict[str, list[str]] = defaultdict(list)
        for name in self.counters:
            code, _, rest = name.partition(SEP)
            if code in codes:
                prop, _, label = rest.partition(SEP)
                under[code + SEP + prop].append(name)
                if label:
                    under[code + SEP + prop + SEP + label.partition(SEP)[0]].append(name)
        return under

    def samples(self, names: Sequence[str]) -> dict[str, list[float]]:
        return self.reader.samples(self.window.bucket_ms, self._present, names)


@dataclass
class FamilyView:
    """One family's state of the present: totals and snapshot series."""

    reader: Reader
    shards: Sequence[ShardId]
    now_ms: int
    totals: dict[str, int]

    def series_names(self) -> set[str]:
        return self.reader.series_names(self.shards)

    def series_at(self, name: str, at_ms: int) -> tuple[int, float] | None:
        return self.reader.series_at(self.shards, name, at_ms)


def read_family(
    reader: Reader, shards: Sequence[ShardId], windows: Sequence[Window], now_ms: int
) -> tuple[FamilyView, list[WindowView]]:
    """The family's views for one scrape, from one read of its counter buckets."""
    starts = {window: window_buckets(now_ms, window) for window in windows}
    spans: dict[int, range] = {TOTALS[0]: range(TOTALS[1], TOTALS[1] + 1)}
    for window, span in starts.items():
        if len(span) > len(spans.get(window.bucket_ms, ())):
            spans[window.bucket_ms] = span  # windows of one tier end in the same bucket
    found = reader.buckets(shards, spans)
    family = FamilyView(reader, shards, now_ms, _sum(found[TOTALS[0]], TOTALS[1]))
    views = [
        WindowView(window, reader, now_ms, starts[window], found[window.bucket_ms]) for window in windows
    ]
    return family, views


def _sum(found: ShardBuckets, first: int) -> dict[str, int]:
    """Every field summed over the shards' buckets that start at `first` or later."""
    total: dict[str, int] = {}
    get = total.get
    for buckets in found.values():
        for start, fields in buckets.items():
            if start >= first:
                for name, value in fields.items():
                    total[name] = get(name, 0) + value
    return total


class Exposition(Protocol):
    """A family's exposition module: declares its metrics, then fills them from the views."""

    def declare(self, out: MetricSet) -> None: ...

    def collect(
        self, family: FamilyView, windows: Sequence[WindowView], out: MetricSet, cap: int
    ) -> None: ...
