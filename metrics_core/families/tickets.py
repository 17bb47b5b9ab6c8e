"""Support tickets: open and resolution times merge in any order; a ticket counts at its resolution.

A ticket keeps its earliest `ticket_opened` and its earliest `ticket_resolved` by event time (a
ticket resolved twice keeps its first resolution). Once both are known and the resolution is
not before the opening, the ticket contributes at its resolution time: `tr` +1, `trs` += the
resolution time in ms, and one sample (seconds) in the distribution `res` for the exact median.
A revision retracts the old contribution (the old sample is withdrawn) and adds the new one.

State (JSON): [opened_ms | null, resolved_ms | null, property label of the contribution].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import orjson

from metrics_core.events.model import Event
from metrics_core.families.base import Context
from metrics_core.families.changes import Changes, field_name

# An unresolved ticket is remembered this long after it was opened (or the retention, if longer);
# a resolution after that finds no opening and is not counted.
OPEN_TICKET_MS = 90 * 86_400_000


class Ticket(NamedTuple):
    opened_ms: int | None = None
    resolved_ms: int | None = None
    prop: str | None = None

    def merge(self, event: Event) -> Ticket:
        """Earliest opening, earliest resolution, in any order.

        >>> t = Ticket().merge(Event("e", "customer.ticket_resolved", 9, "default", {"ticket_id": "t"}))
        >>> t.merge(Event("f", "customer.ticket_resolved", 12, "default", {"ticket_id": "t"}))
        Ticket(opened_ms=None, resolved_ms=9, prop=None)
        """
        if event.type == "customer.ticket_opened":
            return self._replace(opened_ms=_earliest(self.opened_ms, event.ts_ms))
        return self._replace(resolved_ms=_earliest(self.resolved_ms, event.ts_ms))

    @property
    def resolution_ms(self) -> int | None:
        """resolved − opened, when both are known and in that order; else the ticket does not count."""
        if self.opened_ms is None or self.resolved_ms is None or self.resolved_ms < self.opened_ms:
            return None
        return self.resolved_ms - self.opened_ms

    def expire_at_ms(self, ctx: Context) -> int:
        if self.resolved_ms is None and self.opened_ms is not None:
            return self.opened_ms + max(ctx.retention_ms, OPEN_TICKET_MS)
        return max(t for t in (self.opened_ms, self.resolved_ms) if t is not None) + ctx.retention_ms


def _earliest(known: int | None, ts_ms: int) -> int:
    return ts_ms if known is None else min(known, ts_ms)


def sample_member(key: str, resolved_ms: int) -> str:
    """The ticket's sample member, named by its resolution second too: a withdrawal at the old
    time and the addition at the new one never touch the same member, whatever buckets they share."""
    return f"{key}@{resolved_ms // 1000}"


def _contribution(key: str, ticket: Ticket, sign: int, changes: Changes) -> None:
    duration_ms = ticket.resolution_ms
    if duration_ms is None or ticket.resolved_ms is None or ticket.prop is None:
        return
    at = ticket.resolved_ms
    changes.count(at, field_name("tr", ticket.prop), sign)
    changes.count(at, field_name("trs", ticket.prop), sign * duration_ms)
    value = duration_ms / 1000 if sign > 0 else None
    changes.sample(at, field_name("res", ticket.prop), sample_member(key, at), value)


def apply_ticket(
    key: str, events: Sequence[Event], raw: bytes | None, prop: str, ctx: Context, changes: Changes
) -> None:
    """Revise one ticket with the batch's events: retract what it contributed, add what it does now."""
    before = Ticket(*orjson.loads(raw)) if raw else Ticket()
    after = before._replace(prop=prop)
    for event in events:
        after = after.merge(event)
    if after == before:
        return
    _contribution(key, before, -1, changes)
    _contribution(key, after, +1, changes)
    changes.put_state(key, orjson.dumps(list(after)), after.expire_at_ms(ctx))
