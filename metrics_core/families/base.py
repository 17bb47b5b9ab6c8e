"""The shape every metric family has: which entity states it needs, and how events change them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from metrics_core.events.model import Event
from metrics_core.families.changes import Changes
from metrics_core.labels import LabelCap


@dataclass(frozen=True, slots=True)
class Context:
    """What a family may know besides the events: the clock, the limits and the label cap."""

    now_ms: int
    retention_ms: int
    session_timeout_ms: int
    labels: LabelCap


class Family(Protocol):
    """A metric family: pure functions from a batch of valid events to `Changes`."""

    name: str

    def state_keys(self, events: Sequence[Event]) -> set[str]:
        """Entity-state keys this batch reads (ids are hashed: no personal data in keys)."""
        ...

    def apply(
        self,
        events: Sequence[Event],
        states: Mapping[str, bytes | None],
        ctx: Context,
        changes: Changes,
    ) -> None:
        """Record in `changes` what the events change, given the entity states before them."""
        ...


@lru_cache(maxsize=131_072)  # a batch asks twice per entity: for its state, then to apply
def state_key(*parts: str) -> str:
    """A compact, non-reversible key for an entity (ids may be e-mail addresses).

    >>> state_key("v", "shop", "visitor-1")
    '3e53a0c67150fe562de8b444'
    """
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=12).hexdigest()


class CountOnly:
    """A family whose metrics are not built yet: events are validated and counted, nothing more."""

    def __init__(self, name: str) -> None:
        self.name = name

    def state_keys(self, events: Sequence[Event]) -> set[str]:
        return set()

    def apply(
        self,
        events: Sequence[Event],
        states: Mapping[str, bytes | None],
        ctx: Context,
        changes: Changes,
    ) -> None:
        return None
