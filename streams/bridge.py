"""From Faust events to the core and back: group a batch by partition, apply, emit DLQ/re-keys.

Kept free of agent plumbing so the agents stay a few lines each.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from metrics_core.batch import Applier, Limits, Outcome, Plan, RecordLike, classify
from metrics_core.families.base import Family
from metrics_core.families.changes import SEP
from metrics_core.routing import routing_key
from metrics_core.settings import Settings
from metrics_core.store.base import ShardId, Store
from streams.health import Progress

log = logging.getLogger(__name__)


class Sender(Protocol):
    """What the bridge needs of a Kafka producer (aiokafka's `send_and_wait` shape)."""

    async def send_batch(
        self,
        messages: Sequence[tuple[str, int | None, bytes | None, bytes | None, list[tuple[str, bytes]]]],
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Source:
    """One topic this family consumes: the family's own, or its repartition topic."""

    topic: str
    identity: str  # topic_identity(): the fence tells topic instances apart
    rekey: bool  # True on the family's own topic: events owned elsewhere are forwarded


def limits_of(settings: Settings) -> Limits:
    return Limits(
        settings.window_list,
        settings.retention_ms,
        settings.dedup_horizon_ms,
        settings.session_timeout_ms,
        settings.label_cap,
    )


class FamilyBridge:
    """Applies Faust batches of one family (its topic and its repartition topic)."""

    def __init__(
        self,
        settings: Settings,
        family: Family,
        store: Store,
        sender: Sender,
        sources: Mapping[str, Source],
        partitions: int,
        highwater: Callable[[str, int], int | None] = lambda topic, partition: None,
        key_of: Callable[..., str] = routing_key,
        progress: Progress | None = None,
    ) -> None:
        self._settings = settings
        self._family = family
        self._applier = Applier(store, family, limits_of(settings))
        self._sender = sender
        self._sources = sources
        self._partitions = partitions
        self._highwater = highwater
        self._key_of = key_of
        self._progress = progress or Progress(settings.worker_stall_s)

    async def handle(self, messages: Sequence[Any]) -> list[Outcome]:
        """Apply a batch of Faust messages (anything with topic, partition, offset, key, value)."""
        by_tp: defaultdict[tuple[str, int], list[RecordLike]] = defaultdict(list)
        for m in messages:  # aiokafka's records or Faust's messages: both are RecordLike
            by_tp[(m.topic, m.partition)].append(m)
        self._progress.consumed(self._family.name)
        # partitions are independent shards: while Redis works on one, Python computes another
        results = await asyncio.gather(
            *(
                self._apply_partition(topic, partition, records)
                for (topic, partition), records in by_tp.items()
            ),
            return_exceptions=True,  # let every partition finish before a failure is raised
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise _most_serious(failures)
        self._progress.done(self._family.name)
        return [result for result in results if not isinstance(result, BaseException)]

    async def _apply_partition(self, topic: str, partition: int, records: list[RecordLike]) -> Outcome:
        """One partition's records, `batch_size` at a time (a fetch may hold many thousands).

        Partitions run concurrently, so while Redis commits one partition's batch Python
        computes another's; smaller batches leave less of the last commit to wait for.
        """
        highwater = self._highwater(topic, partition)  # before: records arriving meanwhile are new
        size = self._settings.batch_size
        outcomes = [
            await self._apply(topic, partition, records[start : start + size])
            for start in range(0, len(records), size)
        ]
        self._progress.applied(topic, partition, max(r.offset for r in records), highwater)
        return _combined(outcomes)

    async def _apply(self, topic: str, partition: int, records: list[RecordLike]) -> Outcome:
        source = self._sources[topic]
        s = self._settings
        plan = classify(
            records,
            self._family.name,
            partition,
            self._partitions if source.rekey else None,
            int(time.time() * 1000),
            s.retention_ms,
            s.max_event_bytes,
            self._key_of,
        )
        gauges = {}
        highwater = self._highwater(topic, partition)
        if highwater is not None:
            gauges[SEP.join(("lag", topic, str(partition)))] = max(0, highwater - plan.last_offset - 1)

        async def emit(todo: Plan) -> None:
            await self._emit(topic, partition, todo)

        outcome = await self._applier.apply(
            ShardId(self._family.name, partition),
            f"{source.identity}|{partition}",
            plan,
            emit,
            gauges,
        )
        if outcome.rejected or outcome.duplicates or outcome.late:
            log.info(
                "%s[%d] applied %d, rejected %d, duplicates %d, late %d",
                topic,
                partition,
                outcome.applied,
                outcome.rejected,
                outcome.duplicates,
                outcome.late,
            )
        return outcome

    async def _emit(self, topic: str, partition: int, todo: Plan) -> None:
        """Rejections to `<family>.dlq` (reason and source in headers); re-keyed events onward."""
        family = self._family.name
        messages: list[tuple[str, int | None, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
        for record, why in todo.rejected:
            headers = [
                ("pulse.reason", why.reason.value.encode()),
                ("pulse.error", why.detail.encode()),
                ("pulse.source.topic", topic.encode()),
                ("pulse.source.partition", str(partition).encode()),
                ("pulse.source.offset", str(record.offset).encode()),
            ]
            messages.append((self._settings.dlq_topic(family), None, record.key, record.value, headers))
        for record, target, key in todo.forwards:
            messages.append(
                (
                    self._settings.repartition_topic(family),
                    target,
                    key.encode(),
                    record.value,
                    [("pulse.source.offset", str(record.offset).encode())],
                )
            )
        if messages:
            await self._sender.send_batch(messages)


def _combined(outcomes: Sequence[Outcome]) -> Outcome:
    """The outcomes of a partition's consecutive batches as one."""
    return Outcome(
        applied=sum(o.applied for o in outcomes),
        duplicates=sum(o.duplicates for o in outcomes),
        rejected=sum(o.rejected for o in outcomes),
        late=sum(o.late for o in outcomes),
        forwarded=sum(o.forwarded for o in outcomes),
        fenced=all(o.fenced for o in outcomes),
        attempts=max(o.attempts for o in outcomes),
    )


def _most_serious(failures: Sequence[BaseException]) -> BaseException:
    """The failure to raise for a batch whose partitions failed in different ways.

    One that a retry cannot mend wins over a retriable one: `StoreRewound` (the store lost
    commits of a partition) is reported once, so a retry of the batch would apply that
    partition's records past the lost ones. After a retriable failure alone, the retry
    re-applies every partition and the fences skip what was committed.
    """
    return next((f for f in failures if not getattr(f, "retriable", False)), failures[0])
