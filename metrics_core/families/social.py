"""The social family (being built): events are validated and counted, no metrics yet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from metrics_core.events.model import Event
from metrics_core.families.base import Context
from metrics_core.families.changes import Changes


class SocialFamily:
    name = "social"

    def state_keys(self, events: Sequence[Event]) -> set[str]:
        return set()

    def apply(
        self, events: Sequence[Event], states: Mapping[str, bytes | None], ctx: Context, changes: Changes
    ) -> None:
        return None
