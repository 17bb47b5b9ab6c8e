"""What one batch changes in one shard: counter deltas, unique-set members, entity states.

Families record changes at event time with a 1-second grain; `spread` then places them in
the bucket of every tier. Every ladder width is a whole number of seconds, so a second
never straddles two buckets of any tier.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from metrics_core.windows import is_readable

SEP = "\x1f"  # joins a field's parts; sanitised labels are printable, so it cannot occur in them


def field_name(*parts: str) -> str:
    """`field_name("pv", "shop")` -> 'pv\\x1fshop': a counter or unique-set name."""
    return SEP.join(parts)


@dataclass
class Changes:
    """The deltas of one batch for one shard, before they are spread over tiers."""

    counts: dict[tuple[int, str], int] = field(default_factory=dict)  # a dict: cheaper than Counter
    uniques: defaultdict[tuple[int, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    states: dict[str, tuple[bytes | None, int]] = field(default_factory=dict)
    pipeline: Counter[str] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    samples: dict[tuple[int, str], dict[str, float | None]] = field(default_factory=dict)
    points: dict[str, dict[int, float]] = field(default_factory=dict)

    def count(self, ts_ms: int, name: str, n: int = 1) -> None:
        key = (ts_ms // 1000, name)
        counts = self.counts
        counts[key] = counts.get(key, 0) + n

    def total(self, name: str, n: int = 1) -> None:
        """A counter of the present, not of a window (e.g. active customers now)."""
        self.totals[name] += n

    def sample(self, ts_ms: int, name: str, member: str, value: float | None) -> None:
        """A value in the distribution `name` at `ts_ms` (for exact medians); None withdraws it.

        Withdraw an old sample before adding its replacement: the later call wins. As with
        `unique`, count it at the same time (and withdraw that count with it): the exporter
        reads distributions only in the buckets that hold counters.
        """
        self.samples.setdefault((ts_ms // 1000, name), {})[member] = value

    def point(self, name: str, ts_ms: int, value: float) -> None:
        """A snapshot in the series `name` (e.g. a follower count); the same ts replaces it."""
        self.points.setdefault(name, {})[ts_ms] = value

    def unique(self, ts_ms: int, name: str, member: str) -> None:
        """Add `member` to the unique set `name` at `ts_ms`.

        Record it with a positive count at the same time (in this batch or an earlier one, and
        never retracted): the exporter reads unique sets only in the buckets that hold counters.
        """
        key = (ts_ms // 1000, name)
        members = self.uniques.get(key)
        if members is None:
            self.uniques[key] = {member}
        else:
            members.add(member)

    def put_state(self, key: str, value: bytes | None, expire_at_ms: int = 0) -> None:
        """Set (or, with None, delete) an entity's state; it expires at `expire_at_ms`."""
        self.states[key] = (value, expire_at_ms)


Buckets = tuple[tuple[int, int], ...]  # (bucket_ms, start_ms) of each tier


@dataclass(frozen=True, slots=True)
class Spread:
    """Changes placed in buckets: `counters[(bucket_ms, start_ms)] = {field: delta}`.

    `uniques[(buckets, name)]`: members to add to the unique set `name` in each of those
    buckets. Seconds that fall in the same bucket of every tier share one entry, so a member
    travels once per batch, not once per tier (unique sets are most of a commit's bytes).
    """

    counters: dict[tuple[int, int], dict[str, int]]
    uniques: dict[tuple[Buckets, str], set[str]]
    samples: dict[tuple[int, int, str], dict[str, float | None]] = field(default_factory=dict)


TOTALS = (0, 0)  # the (width, start) under which `Changes.total` counters travel; never expires


def spread(changes: Changes, tier_spans: Mapping[int, int], now_ms: int) -> Spread:
    """Place each change in its bucket of every tier that a window still reads.

    `tier_spans` maps bucket width -> the longest window read from that tier.
    Zero net deltas (e.g. a session retracted and re-added unchanged) are dropped.
    """
    counters: defaultdict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    uniques: defaultdict[tuple[Buckets, str], set[str]] = defaultdict(set)
    for (second, name), delta in changes.counts.items():
        if delta:
            for bucket in _buckets(second * 1000, tier_spans, now_ms):
                fields = counters[bucket]
                fields[name] = fields.get(name, 0) + delta
    for (second, name), members in changes.uniques.items():
        buckets = tuple(_buckets(second * 1000, tier_spans, now_ms))
        if buckets:
            uniques[(buckets, name)] |= members
    samples: defaultdict[tuple[int, int, str], dict[str, float | None]] = defaultdict(dict)
    for (second, name), values in changes.samples.items():
        for bucket_ms, start in _buckets(second * 1000, tier_spans, now_ms):
            samples[(bucket_ms, start, name)].update(values)
    totals = {name: n for name, n in changes.totals.items() if n}
    if totals:
        counters[TOTALS] = totals
    return Spread(
        {b: f for b, f in counters.items() if any(f.values())},
        dict(uniques),
        dict(samples),
    )


def _buckets(ts_ms: int, tier_spans: Mapping[int, int], now_ms: int) -> Iterable[tuple[int, int]]:
    for bucket_ms, span_ms in tier_spans.items():
        start = ts_ms - ts_ms % bucket_ms
        if is_readable(start, bucket_ms, span_ms, now_ms):
            yield bucket_ms, start
