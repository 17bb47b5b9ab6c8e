"""The store interface: one shard's snapshot for a batch, one atomic commit, and scrape-time reads.

A shard is one partition of one family (`clickstream` partition 3). Everything a batch
touches lives in its shard (one Redis Cluster hash slot); a commit is all-or-nothing and
carries the shard version it was computed from, so a concurrent writer makes it fail with
`StoreConflict` (re-read, recompute) instead of applying stale arithmetic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from metrics_core.events.model import Event
from metrics_core.families.changes import Spread

HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True, order=True)
class ShardId:
    family: str
    partition: int

    def __str__(self) -> str:
        return f"{self.family}:{self.partition}"


def fingerprint(event_id: str) -> bytes:
    """The 8-byte de-duplication fingerprint of an event id.

    >>> fingerprint("evt-1").hex()
    'be436e82dda15c47'
    """
    return hashlib.blake2b(event_id.encode(), digest_size=8).digest()


def dedup_bucket(ts_ms: int) -> int:
    """Fingerprints are kept per event-time hour: a retry carries its original timestamp."""
    return ts_ms - ts_ms % HOUR_MS


def dedup_keys(events: Iterable[tuple[int, Event]]) -> dict[int, tuple[int, bytes]]:
    """`offset -> (dedup_bucket, fingerprint)` of a batch's events: both, inlined (hot path).

    >>> dedup_keys([(7, Event("evt-1", "social.like", 3_600_001, "default", {}))])[7][0]
    3600000
    """
    blake2b = hashlib.blake2b
    return {
        offset: (e.ts_ms - e.ts_ms % HOUR_MS, blake2b(e.event_id.encode(), digest_size=8).digest())
        for offset, e in events
    }


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a shard holds for one batch, read before computing it."""

    version: int
    fence: int  # last applied offset of this source partition; -1 when none
    seen: frozenset[bytes]  # fingerprints of the batch already seen within the horizon
    states: Mapping[str, bytes | None]
    labels: Mapping[str, Mapping[str, int]] | None  # None: unchanged since `cached_version`


@dataclass(frozen=True, slots=True)
class Commit:
    """One batch's writes, applied atomically iff the shard is still at `expected_version`."""

    expected_version: int
    source: str  # fence field: "<topic identity>|<partition>"
    last_offset: int
    fingerprints: Mapping[int, Sequence[bytes]]  # dedup bucket -> new fingerprints
    dedup_expire_ms: int
    spread: Spread
    bucket_expiry_ms: Mapping[int, int]  # bucket width -> how long after its start it lives
    states: Mapping[str, tuple[bytes | None, int]]  # key -> (value or delete, expire at ms)
    labels_touched: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    labels_released: Mapping[str, Sequence[str]] = field(default_factory=dict)
    pipeline: Mapping[str, int] = field(default_factory=dict)  # counters (incremented)
    gauges: Mapping[str, int] = field(default_factory=dict)  # set as they are
    maxima: Mapping[str, int] = field(default_factory=dict)  # kept at the largest value seen
    series: Mapping[str, Mapping[int, float]] = field(default_factory=dict)  # name -> {ts: value}
    series_keep_from_ms: int = 0  # older points are dropped


class Store(Protocol):
    """The worker's side: read a shard for a batch, commit the batch."""

    async def snapshot(
        self,
        shard: ShardId,
        source: str,
        fingerprints: Sequence[tuple[int, bytes]],
        state_keys: Sequence[str],
        cached_version: int | None,
    ) -> Snapshot: ...

    async def commit(self, shard: ShardId, commit: Commit) -> int:
        """Apply and return the new version; 0 when the fence shows the batch already applied.

        Raises StoreConflict when the shard moved past `expected_version`.
        """
        ...

    async def register(self, shard: ShardId) -> None:
        """Make the shard known to exporters."""
        ...


# A scrape's counter buckets: bucket width -> shard -> bucket start -> {field: value}, only the
# buckets that hold anything (see Reader.buckets).
Buckets = dict[int, dict[ShardId, dict[int, dict[str, int]]]]


class UniqueGroup(NamedTuple):
    """Unique sets to count as one union, and the buckets (shard, start) to read them in."""

    names: Sequence[str]
    buckets: Sequence[tuple[ShardId, int]]


class Reader(Protocol):
    """The exporter's side: sums over every shard of a family, read at scrape time."""

    def shards(self) -> list[ShardId]: ...

    def buckets(self, shards: Sequence[ShardId], spans: Mapping[int, range]) -> Buckets:
        """The counter buckets of every shard in each span (bucket width -> the starts to read,
        `range(0, 1)` for the totals' width 0), leaving out the buckets without counters."""
        ...

    def uniques(self, bucket_ms: int, groups: Mapping[str, UniqueGroup]) -> dict[str, int]:
        """For each group, the size of the union of its unique sets in its buckets: the views
        choose the buckets with counters (a unique set is only ever written with a counter in
        its bucket, `Changes.unique`), so the others hold none."""
        ...

    def samples(
        self, bucket_ms: int, buckets: Mapping[ShardId, Sequence[int]], names: Sequence[str]
    ) -> dict[str, list[float]]:
        """Every sample of each distribution in the given buckets (one per member); as for
        `uniques`, the buckets with counters: a sample is only ever written with a count."""
        ...

    def series_names(self, shards: Sequence[ShardId]) -> set[str]: ...

    def series_at(self, shards: Sequence[ShardId], name: str, at_ms: int) -> tuple[int, float] | None:
        """The latest point of a series at or before `at_ms`, as (ts, value)."""
        ...

    def pipeline(self, shards: Sequence[ShardId]) -> list[dict[str, int]]:
        """Each shard's pipeline hash (counters, gauges and maxima)."""
        ...

    def ping(self) -> bool: ...
