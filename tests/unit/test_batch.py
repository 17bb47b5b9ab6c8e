"""The batch path: offset fence, de-dup, late events, rejections, re-keying, conflict retries."""

from __future__ import annotations

import pytest

from metrics_core.batch import MAX_ATTEMPTS, Plan, classify
from metrics_core.errors import StoreConflict
from metrics_core.events.model import Reason
from metrics_core.routing import routing_key
from metrics_core.store.base import Commit, ShardId
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import retention_ms
from tests.unit.conftest import (
    HOUR_S,
    NOW_MS,
    NOW_S,
    SOURCE,
    WINDOWS,
    HarnessFactory,
    InterferingStore,
    click,
    event,
    page_view,
    records,
)

N = NOW_S
SHARD = ShardId("clickstream", 0)
RETENTION_S = 25 * HOUR_S  # 24h (longest window) + 1 h
PAGE_VIEW = "clickstream.page_view"


def views(*ids: str, ts_s: int = N - 60) -> list[bytes]:
    """One page view per id, each by its own visitor (so each is a bounce session)."""
    return [page_view(i, ts_s, "/p", anonymous_id=f"v-{i}") for i in ids]


# --- classify


def test_classify_sorts_a_batch() -> None:
    batch = records(
        [
            *views("ok"),
            b"\xff\xfe",  # not UTF-8
            page_view("old", N - RETENTION_S, "/p", anonymous_id="v"),  # exactly at the horizon: late
            page_view("edge", N - RETENTION_S + 1, "/p", anonymous_id="v"),  # 1 s inside: kept
            None,  # a tombstone / empty value
        ],
        first_offset=10,
    )
    plan = classify(batch, "clickstream", 0, None, NOW_MS, retention_ms(WINDOWS), 65_536, routing_key)
    assert [(offset, e.event_id) for offset, e in plan.events] == [(10, "ok"), (13, "edge")]
    assert [(r.offset, why.reason) for r, why in plan.rejected] == [
        (11, Reason.INVALID_JSON),
        (14, Reason.INVALID_JSON),
    ]
    assert plan.late == [12]
    assert plan.forwards == []
    assert plan.last_offset == 14


def test_classify_rekeys_events_owned_elsewhere() -> None:
    # Kafka's murmur2 (see test_routing): "21" -> partition 0, "foobar" -> 2, "abc" -> 3 (of 4)
    batch = records(
        [
            page_view("e0", N - 60, "/", anonymous_id="21"),
            page_view("e1", N - 60, "/", anonymous_id="foobar"),
            click("e2", N - 60, "hero", anonymous_id="abc"),
            page_view("e3", N - 60, "/", anonymous_id="foobar", session_id="21"),  # session wins
        ]
    )
    plan = classify(batch, "clickstream", 0, 4, NOW_MS, retention_ms(WINDOWS), 65_536, routing_key)
    assert [e.event_id for _, e in plan.events] == ["e0", "e3"]
    assert [(r.offset, target, key) for r, target, key in plan.forwards] == [(1, 2, "foobar"), (2, 3, "abc")]
    # partitions=None (the repartition topic): everything is applied here
    plan = classify(batch, "clickstream", 0, None, NOW_MS, retention_ms(WINDOWS), 65_536, routing_key)
    assert len(plan.events) == 4
    assert plan.forwards == []


def test_plan_after_the_fence() -> None:
    batch = records([*views("a", "b"), b"[]", *views("c")])  # offsets 0..3
    plan = classify(batch, "clickstream", 0, None, NOW_MS, retention_ms(WINDOWS), 65_536, routing_key)
    todo = plan.after(1)
    assert [o for o, _ in todo.events] == [3]
    assert [r.offset for r, _ in todo.rejected] == [2]
    assert todo.last_offset == 3


# --- the applier


async def test_reapplying_a_plan_is_fenced(applier: HarnessFactory) -> None:
    pulse = applier()
    plan = pulse.plan(views("a", "b", "c"))  # offsets 0..2
    first = await pulse.apply(plan)
    assert (first.applied, first.fenced) == (3, False)
    before = pulse.scrape()
    again = await pulse.apply(plan)  # a replay after a crash: the fence (2) covers it
    assert (again.applied, again.fenced) == (0, True)
    assert pulse.scrape().samples == before.samples
    assert before.web("pulse_page_views", "5m") == 3
    assert len(pulse.emitted) == 1  # a fenced batch sends nothing to the DLQ / repartition


async def test_plan_overlapping_the_fence_applies_only_new_offsets(applier: HarnessFactory) -> None:
    pulse = applier()
    await pulse.apply(pulse.plan(views("a", "b", "c")))  # offsets 0..2, fence 2
    # offsets 1..4: 1 and 2 again (with new ids, to show the fence, not de-dup, drops them)
    overlap = pulse.plan([*views("x1", "x2"), b"{", *views("d")], first_offset=1)
    outcome = await pulse.apply(overlap)
    assert (outcome.applied, outcome.rejected, outcome.duplicates) == (1, 1, 0)  # d; offset 3
    scrape = pulse.scrape()
    assert scrape.web("pulse_page_views", "5m") == 4  # a, b, c + d
    assert scrape.value("pulse_events_total", topic="clickstream", type=PAGE_VIEW) == 4
    assert scrape.value("pulse_events_rejected_total", topic="clickstream", reason="invalid_json") == 1
    assert [r.offset for r, _ in pulse.emitted[-1].rejected] == [3]


async def test_fence_carries_the_topic_identity(applier: HarnessFactory) -> None:
    pulse = applier()
    await pulse.apply(pulse.plan(views("a", "b", "c")))  # fence of SOURCE at 2
    # the topic was recreated: offsets restart at 0 under a new identity, and are not replays
    outcome = await pulse.apply(pulse.plan(views("d", "e"), first_offset=0), source="clickstream@2|0")
    assert (outcome.applied, outcome.fenced) == (2, False)
    assert pulse.scrape().web("pulse_page_views", "5m") == 5  # 3 + 2
    # and the old identity is still fenced at 2
    stale = await pulse.apply(pulse.plan(views("f"), first_offset=2), source=SOURCE)
    assert stale.fenced


async def test_duplicates_within_and_across_batches(applier: HarnessFactory) -> None:
    pulse = applier()
    a = views("a")[0]
    first = await pulse.feed(a, a, *views("b"))  # a twice in one batch
    assert (first.applied, first.duplicates) == (2, 1)
    # a again, later, with different content (e.g. a producer retry): still a duplicate
    second = await pulse.feed(page_view("a", N - 30, "/other", anonymous_id="v-x"), *views("c"))
    assert (second.applied, second.duplicates) == (1, 1)
    scrape = pulse.scrape()
    assert scrape.value("pulse_events_duplicate_total", topic="clickstream") == 2
    assert scrape.value("pulse_events_total", topic="clickstream", type=PAGE_VIEW) == 3  # a b c
    assert scrape.web("pulse_page_views", "5m") == 3
    assert scrape.web("pulse_sessions", "5m") == 3  # v-a, v-b, v-c; v-x never counted
    assert scrape.web("pulse_page_views_by_page", "5m", page="/other") is None


async def test_late_events_are_counted_and_ignored(applier: HarnessFactory) -> None:
    pulse = applier()
    outcome = await pulse.feed(
        page_view("old", N - RETENTION_S, "/p", anonymous_id="v"),  # at the horizon: late
        page_view("older", N - 30 * 24 * HOUR_S, "/p", anonymous_id="v"),  # 30 days: late
        *views("ok"),
    )
    assert (outcome.applied, outcome.late) == (1, 2)
    scrape = pulse.scrape()
    assert scrape.value("pulse_events_late_total", topic="clickstream") == 2
    assert scrape.value("pulse_events_total", topic="clickstream", type=PAGE_VIEW) == 1
    assert scrape.value("pulse_events_duplicate_total", topic="clickstream") == 0
    assert (
        sum(scrape.value("pulse_events_rejected_total", topic="clickstream", reason=r.value) for r in Reason)
        == 0
    )
    for window in ("5m", "1h", "24h"):
        assert scrape.web("pulse_page_views", window) == 1
        assert scrape.web("pulse_sessions", window) == 1
    assert pulse.emitted[0].rejected == [] and pulse.emitted[0].forwards == []
    # nothing was written for the late events: their ids are not even remembered
    again = await pulse.feed(*views("ok"), page_view("old", N - 60, "/p", anonymous_id="v"))
    assert (again.applied, again.duplicates) == (1, 1)


REJECTS = [
    (b"not json", Reason.INVALID_JSON),
    (b'"a string"', Reason.NOT_AN_OBJECT),
    (event("clickstream.scroll", "r1", N - 60), Reason.UNKNOWN_TYPE),
    (event("email.sent", "r2", N - 60, message_id="m", campaign_id="c"), Reason.WRONG_TOPIC),
    (event(PAGE_VIEW, "r3", N - 60, anonymous_id="v"), Reason.MISSING_FIELD),
    (event(PAGE_VIEW, "r4", N - 60, page=7, anonymous_id="v"), Reason.WRONG_TYPE),
    (event(PAGE_VIEW, "r5", N - 60, page="/" + "x" * 300, anonymous_id="v"), Reason.STRING_TOO_LONG),
    (event(PAGE_VIEW, "r6", "yesterday", page="/", anonymous_id="v"), Reason.INVALID_TIMESTAMP),
    (event(PAGE_VIEW, "r7", N + 301, page="/", anonymous_id="v"), Reason.FUTURE_TIMESTAMP),
    (event(PAGE_VIEW, "r8", N - 60, page="/", anonymous_id="v") + b" " * 70_000, Reason.TOO_LARGE),
]


async def test_rejections_are_counted_by_reason_and_emitted(applier: HarnessFactory) -> None:
    pulse = applier()
    outcome = await pulse.feed(*(raw for raw, _ in REJECTS), *views("ok"))
    assert (outcome.applied, outcome.rejected) == (1, len(REJECTS))
    (emitted,) = pulse.emitted
    assert [(r.offset, why.reason) for r, why in emitted.rejected] == [
        (offset, reason) for offset, (_, reason) in enumerate(REJECTS)
    ]
    assert all(why.detail for _, why in emitted.rejected)
    scrape = pulse.scrape()
    for reason in Reason:  # every reason exactly once, except out_of_range (none here)
        expected = 0 if reason is Reason.OUT_OF_RANGE else 1
        assert (
            scrape.value("pulse_events_rejected_total", topic="clickstream", reason=reason.value) == expected
        ), reason
    assert scrape.web("pulse_page_views", "5m") == 1


async def test_forwarded_events_are_emitted_not_counted(applier: HarnessFactory) -> None:
    pulse = applier()
    batch = [
        page_view("e0", N - 60, "/", anonymous_id="21"),  # owned by partition 0
        page_view("e1", N - 60, "/", anonymous_id="foobar"),
    ]  # owned by partition 2
    outcome = await pulse.apply(pulse.plan(batch, partitions=4))
    assert (outcome.applied, outcome.forwarded) == (1, 1)
    (emitted,) = pulse.emitted
    assert [(r.offset, target, key) for r, target, key in emitted.forwards] == [(1, 2, "foobar")]
    scrape = pulse.scrape()
    assert scrape.value("pulse_events_total", topic="clickstream", type=PAGE_VIEW) == 1
    assert scrape.web("pulse_page_views", "5m") == 1
    # the owner applies it from the repartition topic (partitions=None: no further re-keying)
    owner = applier(store=pulse.store, partition=2)
    forwarded = owner.plan([record.value for record, _, _ in emitted.forwards])
    assert (await owner.apply(forwarded, source="clickstream.repartition@1|2")).applied == 1
    scrape = pulse.scrape()
    assert scrape.value("pulse_events_total", topic="clickstream", type=PAGE_VIEW) == 2
    assert scrape.web("pulse_page_views", "5m") == 2  # the exporter sums both shards


async def test_conflict_is_retried_and_applies_once(applier: HarnessFactory) -> None:
    """Another writer commits to the shard (the repartition topic's batch) between our
    snapshot and our commit: our commit fails, we re-read and recompute on top of it."""
    store = InterferingStore()
    pulse = applier(store=store)
    rival = applier(store=store)
    # the rival brings visitor v's first view (N-100); our batch its second (N-40) and a reject
    store.interfere = lambda: rival.apply(
        rival.plan([page_view("r", N - 100, "/a", anonymous_id="v")]), source="clickstream.repartition@1|0"
    )
    outcome = await pulse.feed(page_view("o", N - 40, "/b", anonymous_id="v"), b"garbage")
    assert (outcome.applied, outcome.rejected, outcome.attempts) == (1, 1, 2)
    assert (store.commits, store.conflicts) == (3, 1)  # rival's, our failed one, our retry
    assert len(pulse.emitted) == 1  # the rejection went to the DLQ once, not once per attempt
    scrape = pulse.scrape()
    # computed on top of the rival's view: one session of 2 views, 60 s, not two bounces
    assert scrape.web("pulse_page_views", "5m") == 2
    assert scrape.web("pulse_sessions", "5m") == 1
    assert scrape.web("pulse_bounced_sessions", "5m") == 0
    assert scrape.web("pulse_session_duration_seconds", "5m") == 60.0
    assert scrape.web("pulse_page_exits", "5m", page="/a") == 0
    assert scrape.web("pulse_page_exits", "5m", page="/b") == 1
    assert scrape.value("pulse_events_total", topic="clickstream", type=PAGE_VIEW) == 2
    assert scrape.value("pulse_events_rejected_total", topic="clickstream", reason="invalid_json") == 1
    # and replaying our batch changes nothing
    assert (await pulse.apply(pulse.plan([b"x", b"y"], first_offset=0))).fenced
    assert pulse.scrape().samples == scrape.samples


async def test_endless_conflicts_give_up(applier: HarnessFactory) -> None:
    class AlwaysConflicting(MemoryStore):
        async def commit(self, shard: ShardId, commit: Commit) -> int:
            raise StoreConflict("someone else")

    pulse = applier(store=AlwaysConflicting())
    with pytest.raises(StoreConflict, match=f"{MAX_ATTEMPTS} conflicting commits"):
        await pulse.feed(*views("a"), b"bad")
    assert len(pulse.emitted) == 1  # emitted once, before the first attempt


async def test_outcome_of_an_empty_batch(applier: HarnessFactory) -> None:
    pulse = applier()
    outcome = await pulse.apply(Plan())
    assert outcome.fenced and outcome.applied == 0
    assert pulse.emitted == []


async def test_records_of_an_all_late_batch_still_move_the_fence(applier: HarnessFactory) -> None:
    pulse = applier()
    old = page_view("old", N - RETENTION_S - 60, "/p", anonymous_id="v")
    plan = pulse.plan([old, old])
    assert (await pulse.apply(plan)).late == 2
    assert (await pulse.apply(plan)).fenced  # a replay does not count them late again
    assert pulse.scrape().value("pulse_events_late_total", topic="clickstream") == 2
