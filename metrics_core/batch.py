"""One partition's batch, start to finish: classify, read the shard, compute, commit once.

    plan = classify(records, ...)          # pure: decode, reject, late, re-key
    await applier.apply(shard, source, plan, emit)

`apply` reads the shard (fence, seen fingerprints, entity states), drops what the fence
already covers, hands rejections and re-keyed events to `emit` (DLQ and repartition topic,
before the commit so nothing is acknowledged unwritten), and commits the batch's changes in
one atomic call. A concurrent writer makes the commit fail; the batch is then recomputed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple, Protocol

from metrics_core.errors import StoreConflict
from metrics_core.events.decode import decode
from metrics_core.events.model import Event, Rejection
from metrics_core.families.base import Context, Family
from metrics_core.families.changes import Changes, spread
from metrics_core.labels import LabelCap
from metrics_core.routing import owner
from metrics_core.store.base import Commit, ShardId, Store, dedup_keys
from metrics_core.windows import RETENTION_MARGIN_MS, Window, tier_span_ms, tiers

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MAX_ATTEMPTS = 20


class Record(NamedTuple):
    """One Kafka message of the batch (aiokafka's `ConsumerRecord` has the same attributes)."""

    offset: int
    value: bytes | None
    key: bytes | None = None


class RecordLike(Protocol):
    """What the batch path reads of a Kafka message."""

    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def key(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """A batch sorted out: valid events, rejections, late events and events to re-key."""

    events: Sequence[tuple[int, Event]] = ()
    rejected: Sequence[tuple[RecordLike, Rejection]] = ()
    late: Sequence[int] = ()
    forwards: Sequence[tuple[RecordLike, int, str]] = ()  # (record, owning partition, routing key)
    last_offset: int = -1
    first_offset: int = 0  # the lowest offset of the batch (0 when unknown: `after` filters)

    def after(self, fence: int) -> Plan:
        """The part of the batch the fence does not cover yet."""
        if fence < self.first_offset:  # the usual case: nothing to drop
            return self
        return Plan(
            [(o, e) for o, e in self.events if o > fence],
            [(r, why) for r, why in self.rejected if r.offset > fence],
            [o for o in self.late if o > fence],
            [f for f in self.forwards if f[0].offset > fence],
            self.last_offset,
        )


def classify(
    records: Sequence[RecordLike],
    family: str,
    partition: int,
    partitions: int | None,
    now_ms: int,
    retention_ms: int,
    max_bytes: int,
    key_of: Callable[[Event], str],
) -> Plan:
    """Decode and sort one partition's records. `partitions=None`: do not re-key (repartition topic)."""
    events: list[tuple[int, Event]] = []
    rejected: list[tuple[RecordLike, Rejection]] = []
    late: list[int] = []
    forwards: list[tuple[RecordLike, int, str]] = []
    oldest_ms = now_ms - retention_ms
    for record in records:
        result = decode(record.value, family, now_ms, max_bytes)
        if isinstance(result, Rejection):
            rejected.append((record, result))
        elif result.ts_ms <= oldest_ms:
            late.append(record.offset)
        elif partitions is not None and (target := owner(result, partitions, key_of)) != partition:
            forwards.append((record, target, key_of(result)))
        else:
            events.append((record.offset, result))
    offsets = [r.offset for r in records]
    return Plan(events, rejected, late, forwards, max(offsets, default=-1), min(offsets, default=0))


Emit = Callable[[Plan], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a batch did: counts for logs and tests."""

    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    late: int = 0
    forwarded: int = 0
    fenced: bool = False
    attempts: int = 1


@dataclass(frozen=True)
class Limits:
    """The settings the batch path needs, derived once."""

    windows: Sequence[Window]
    retention_ms: int
    dedup_horizon_ms: int
    session_timeout_ms: int
    label_cap: int
    tier_spans: Mapping[int, int] = field(init=False)
    bucket_expiry_ms: Mapping[int, int] = field(init=False)

    def __post_init__(self) -> None:
        spans = {b: tier_span_ms(self.windows, b) for b in tiers(self.windows)}
        object.__setattr__(self, "tier_spans", spans)
        object.__setattr__(
            self,
            "bucket_expiry_ms",
            {b: b + span + RETENTION_MARGIN_MS for b, span in spans.items()},
        )


class Applier:
    """Applies batches of one family to the store, one shard (partition) at a time."""

    def __init__(
        self,
        store: Store,
        family: Family,
        limits: Limits,
        clock: Callable[[], float] = time.perf_counter,  # seconds, for the apply latency
    ) -> None:
        self._store = store
        self._family = family
        self._limits = limits
        self._clock = clock
        self._labels: dict[ShardId, tuple[int, LabelCap]] = {}
        self._latency_s: dict[ShardId, float] = {}
        self._registered: set[ShardId] = set()

    async def apply(
        self,
        shard: ShardId,
        source: str,
        plan: Plan,
        emit: Emit,
        gauges: Mapping[str, int] | None = None,
        now_ms: int | None = None,
    ) -> Outcome:
        started = self._clock()
        if shard not in self._registered:
            await self._store.register(shard)
            self._registered.add(shard)
        now = int(time.time() * 1000) if now_ms is None else now_ms
        fp_of = dedup_keys(plan.events)
        fps = list(fp_of.values())
        keys = sorted(self._family.state_keys([e for _, e in plan.events]))
        emitted = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            cached = self._labels.get(shard)
            snap = await self._store.snapshot(shard, source, fps, keys, cached[0] if cached else None)
            todo = plan.after(snap.fence)
            if todo.last_offset <= snap.fence:
                return Outcome(fenced=True, attempts=attempt)
            if not emitted:  # once: a retry after a conflict must not send them again
                await emit(todo)
                emitted = True
            if snap.labels is not None or cached is None:
                labels = LabelCap.load(self._limits.label_cap, snap.labels or {})
            else:
                labels = LabelCap.load(self._limits.label_cap, cached[1].known)
            commit, outcome = self._compute(
                todo, fp_of, snap.seen, snap.states, snap.version, source, labels, now, shard, gauges or {}
            )
            try:
                version = await self._store.commit(shard, commit)
            except StoreConflict:
                self._labels.pop(shard, None)
                continue
            if version == 0:
                return Outcome(fenced=True, attempts=attempt)
            self._labels[shard] = (version, labels)
            self._latency_s[shard] = self._clock() - started
            return replace(outcome, attempts=attempt)
        raise StoreConflict(
            f"shard {shard}: {MAX_ATTEMPTS} conflicting commits in a row; "
            "is another process writing this partition?"
        )

    def _compute(
        self,
        todo: Plan,
        fp_of: Mapping[int, tuple[int, bytes]],
        seen: frozenset[bytes],
        states: Mapping[str, bytes | None],
        version: int,
        source: str,
        labels: LabelCap,
        now_ms: int,
        shard: ShardId,
        gauges: Mapping[str, int],
    ) -> tuple[Commit, Outcome]:
        fresh: list[Event] = []
        new_fps: dict[int, list[bytes]] = {}
        batch_seen: set[bytes] = set(seen)
        for offset, event in todo.events:
            bucket, fp = fp_of[offset]
            if fp in batch_seen:
                continue
            batch_seen.add(fp)
            new_fps.setdefault(bucket, []).append(fp)
            fresh.append(event)
        limits = self._limits
        changes = Changes()
        ctx = Context(now_ms, limits.retention_ms, limits.session_timeout_ms, labels)
        released = labels.expire(now_ms - limits.retention_ms)  # free slots before folding
        self._family.apply(fresh, states, ctx, changes)
        duplicates = len(todo.events) - len(fresh)
        pipeline = self._pipeline_counts(fresh, todo, duplicates, shard)
        commit = Commit(
            expected_version=version,
            source=source,
            last_offset=todo.last_offset,
            fingerprints=new_fps,
            dedup_expire_ms=now_ms + limits.dedup_horizon_ms,
            spread=spread(changes, limits.tier_spans, now_ms),
            bucket_expiry_ms=limits.bucket_expiry_ms,
            states=changes.states,
            labels_touched=labels.take_touched(),
            labels_released=released,
            pipeline=pipeline,
            gauges=gauges,
            maxima={"lts": max(e.ts_ms for e in fresh)} if fresh else {},
            series=changes.points,
            series_keep_from_ms=now_ms - limits.retention_ms,
        )
        return commit, Outcome(len(fresh), duplicates, len(todo.rejected), len(todo.late), len(todo.forwards))

    def _pipeline_counts(
        self, fresh: Sequence[Event], todo: Plan, duplicates: int, shard: ShardId
    ) -> Counter[str]:
        counts: Counter[str] = Counter()
        for event_type, n in Counter(event.type for event in fresh).items():
            counts["acc\x1f" + event_type] = n
        for _, rejection in todo.rejected:
            counts["rej\x1f" + rejection.reason.value] += 1
        counts["dup"] += duplicates
        counts["late"] += len(todo.late)
        # read, not popped: a commit that then conflicts must not lose the observation
        latency = self._latency_s.get(shard)
        if latency is not None:
            le = next((str(b) for b in LATENCY_BUCKETS_S if latency <= b), "+Inf")
            counts["lat\x1f" + le] += 1
            counts["lat_us"] += int(latency * 1_000_000)
        return counts
