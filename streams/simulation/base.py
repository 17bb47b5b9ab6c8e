"""The generator core every family shares: a seeded state machine with a heap of follow-ups.

A generator answers `events(now_ms, count)` with exactly `count` events stamped at or before
`now_ms`. Follow-ups already due (a session's next page view, a message's delivery) go first,
oldest first; when none is due, the generator starts something new (a visit, a send, a
post). Each step is O(log n) in the entities in flight (one heap push or pop): nothing ever
scans all open entities.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import random
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from streams.simulation.scenarios import STEADY, Scenario

Event = dict[str, Any]
T = TypeVar("T")


class Generator:
    """Base of the per-family generators; subclasses define `family`, `_start` and maybe `_resume`."""

    family: ClassVar[str]

    def __init__(
        self, rng: random.Random, properties: Sequence[str] = ("shop",), ids: random.Random | None = None
    ) -> None:
        self.rng = rng  # every decision: what happens, when, which score
        self.ids = (
            ids if ids is not None else rng
        )  # every id: a run's own `ids` keeps the traffic and changes only the ids
        self.properties = tuple(properties)
        self.scenario: Scenario = STEADY
        self._ready: deque[Event] = deque()  # made beyond the last `count`, handed out next time
        self._due: list[tuple[int, int, object]] = []  # (due_ms, seq, event dict or entity)
        self._seq = 0

    def events(self, now_ms: int, count: int) -> list[Event]:
        """The next `count` events, stamped at or before `now_ms` (deterministic for a seed)."""
        out: list[Event] = []
        ready, due = self._ready, self._due
        while len(out) < count:
            if ready:
                out.append(ready.popleft())
            elif due and due[0][0] <= now_ms:
                due_ms, _, item = heapq.heappop(due)
                if isinstance(item, dict):
                    out.append(item)
                else:
                    self._resume(item, due_ms, now_ms)
            else:
                self._start(now_ms)
        return out

    @property
    def in_flight(self) -> int:
        """Follow-ups scheduled and not yet handed out (memory is proportional to this)."""
        return len(self._due) + len(self._ready)

    # --- for subclasses

    def _start(self, now_ms: int) -> None:
        """Begin something new at `now_ms`: emit its first events, schedule the rest."""
        raise NotImplementedError

    def _resume(self, entity: object, due_ms: int, now_ms: int) -> None:
        """An entity scheduled with `later(due_ms, entity)` is due."""
        raise NotImplementedError

    def emit(self, event: Event) -> None:
        self._ready.append(event)

    def later(self, due_ms: int, item: object) -> None:
        """Schedule an event dict (handed out as is) or an entity (`_resume`d) at `due_ms`."""
        self._seq += 1
        heapq.heappush(self._due, (due_ms, self._seq, item))

    def make(self, name: str, ts_ms: int, prop: str, **fields: Any) -> Event:
        """One wire event of this family: `make("sent", t, "shop", message_id=...)`."""
        return {
            "event_id": f"{self.ids.getrandbits(96):024x}",
            "type": f"{self.family}.{name}",
            "timestamp": ts_ms / 1000,
            "property": prop,
            **fields,
        }

    def prop(self) -> str:
        props = self.properties
        return props[0] if len(props) == 1 else self.rng.choice(props)

    def uid(self, prefix: str, bits: int = 48) -> str:
        """A random id such as `msg-3fa4c2d19b7e`: ids only, never personal data."""
        return f"{prefix}-{self.ids.getrandbits(bits):0{bits // 4}x}"


def lognormal_ms(rng: random.Random, median_ms: float, sigma: float, cap_ms: float = math.inf) -> int:
    """A delay with a long right tail (reply times, dwell times): `median_ms · e^N(0, sigma)`."""
    return int(min(median_ms * math.exp(rng.gauss(0.0, sigma)), cap_ms))


class Pool(Generic[T]):
    """A bounded bag with O(1) add, random pick and random take (customers, buyers).

    When full, a new item overwrites the oldest slot: the generator forgets an entity (it
    lives on in Pulse), so memory stays bounded however long the simulation runs.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._items: list[T] = []
        self._limit = limit
        self._next = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> None:
        if len(self._items) < self._limit:
            self._items.append(item)
        else:
            self._items[self._next] = item
            self._next = (self._next + 1) % self._limit

    def pick(self, rng: random.Random) -> T:
        return self._items[rng.randrange(len(self._items))]

    def take(self, rng: random.Random) -> T:
        items = self._items
        index = rng.randrange(len(items))
        items[index], items[-1] = items[-1], items[index]
        return items.pop()


class Choice(Generic[T]):
    """A fixed weighted choice, O(log n) a draw: `Choice({"pro": 3, "starter": 1}).pick(rng)`."""

    def __init__(self, weights: Mapping[T, float]) -> None:
        self.values = tuple(weights)
        self._cum = list(itertools.accumulate(weights.values()))
        if not self._cum or self._cum[-1] <= 0:
            raise ValueError("a choice needs a positive total weight")

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect.bisect_right(self._cum, rng.random() * self._cum[-1])]
