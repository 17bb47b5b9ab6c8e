"""What a family's exposition reads at scrape time: one family's shards, per window or overall."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from metrics_core.exposition.metricset import MetricSet
from metrics_core.families.changes import TOTALS
from metrics_core.store.base import Reader, ShardId
from metrics_core.windows import Window, window_buckets


@dataclass
class WindowView:
    """One window of one family, summed over its shards: counters, unique sets, distributions."""

    window: Window
    reader: Reader
    shards: Sequence[ShardId]
    now_ms: int
    starts: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.starts = list(window_buckets(self.now_ms, self.window))

    @property
    def label(self) -> str:
        return self.window.label

    @property
    def start_ms(self) -> int:
        """The window's start, now − W (for "value at window start" lookups)."""
        return self.now_ms - self.window.window_ms

    @cached_property
    def counters(self) -> dict[str, int]:
        return self.reader.counters(self.shards, self.window.bucket_ms, self.starts)

    def uniques(self, groups: Mapping[str, Sequence[str]]) -> dict[str, int]:
        """Sizes of unions of unique sets: `{"shown": ["set-a", "set-b"]}` -> `{"shown": n}`."""
        return self.reader.uniques(self.shards, self.window.bucket_ms, self.starts, groups)

    def samples(self, names: Sequence[str]) -> dict[str, list[float]]:
        return self.reader.samples(self.shards, self.window.bucket_ms, self.starts, names)


@dataclass
class FamilyView:
    """One family's state of the present: totals and snapshot series."""

    reader: Reader
    shards: Sequence[ShardId]
    now_ms: int

    @cached_property
    def totals(self) -> dict[str, int]:
        return self.reader.counters(self.shards, TOTALS[0], [TOTALS[1]])

    def series_names(self) -> set[str]:
        return self.reader.series_names(self.shards)

    def series_at(self, name: str, at_ms: int) -> tuple[int, float] | None:
        return self.reader.series_at(self.shards, name, at_ms)


class Exposition(Protocol):
    """A family's exposition module: declares its metrics, then fills them from the views."""

    def declare(self, out: MetricSet) -> None: ...

    def collect(
        self, family: FamilyView, windows: Sequence[WindowView], out: MetricSet, cap: int
    ) -> None: ...
