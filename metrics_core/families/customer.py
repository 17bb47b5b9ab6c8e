"""The customer family: the customer ledger, support tickets and event attendance.

Entities (each owned by the partition of its routing key, see routing.py):
  customer  (property, customer_id)              subscriptions and orders: families/ledger.py
  ticket    (property, ticket_id)                opened/resolved times: families/tickets.py
  attendee  (property, event_name, attendee_id)  registration time and attendance: below

Counter fields (joined by `SEP`; `p` property, `e` event, `c` currency, `r` reason):
  act p      activations (inactive -> active)   new p      first activations ever
  churn p r  churns (active -> inactive)         rev p c    revenue in micro-units
  ord p c    orders                              tr p       tickets resolved
  trs p      resolution time sum (ms)            reg p e    registrants (at registration)
  att p e    attendees (at registration)         int p e    event interactions
Totals (the present): act_now p plan. Unique sets (HyperLogLog): buyers p, repeat p.
Distributions: res p (resolution seconds per ticket, for the median).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import orjson

from metrics_core.events.model import Event
from metrics_core.families.base import Context, state_key
from metrics_core.families.changes import Changes, field_name
from metrics_core.families.ledger import apply_ledger
from metrics_core.families.tickets import apply_ticket
from metrics_core.labels import sanitize

Reviser = Callable[[str, Sequence[Event], bytes | None, str, Context, Changes], None]


class Attendance(NamedTuple):
    """One attendee of one event: registration time (earliest), attended, labels counted under.

    It contributes at its registration: a registrant, and an attendee if it attended. An
    attendance without a registration is remembered but not counted until the registration.
    """

    registered_ms: int | None = None
    attended: bool = False
    prop: str | None = None
    event: str | None = None
    last_ms: int = 0

    def merge(self, event: Event) -> Attendance:
        last = max(self.last_ms, event.ts_ms)
        if event.type == "customer.event_attended":
            return self._replace(attended=True, last_ms=last)
        registered = event.ts_ms if self.registered_ms is None else min(self.registered_ms, event.ts_ms)
        return self._replace(registered_ms=registered, last_ms=last)


def _attendance_changes(a: Attendance, sign: int, changes: Changes) -> None:
    if a.registered_ms is None or a.prop is None or a.event is None:
        return
    changes.count(a.registered_ms, field_name("reg", a.prop, a.event), sign)
    changes.count(a.registered_ms, field_name("att", a.prop, a.event), sign * a.attended)


def apply_attendance(
    key: str, events: Sequence[Event], raw: bytes | None, prop: str, ctx: Context, changes: Changes
) -> None:
    """Revise one attendee's registration and attendance: retract the old contribution, add the new."""
    before = Attendance(*orjson.loads(raw)) if raw else Attendance()
    label = _label(ctx, "event", events[0].fields["event_name"])
    after = before._replace(prop=prop, event=label)
    for event in events:
        after = after.merge(event)
    if after == before:
        return
    _attendance_changes(before, -1, changes)
    _attendance_changes(after, +1, changes)
    changes.put_state(key, orjson.dumps(list(after)), after.last_ms + ctx.retention_ms)


def _customer(event: Event) -> str:
    return state_key("c", event.property, event.fields["customer_id"])


def _ticket(event: Event) -> str:
    return state_key("t", event.property, event.fields["ticket_id"])


def _attendee(event: Event) -> str:
    return state_key("e", event.property, event.fields["event_name"], event.fields["attendee_id"])


# type -> (the entity it belongs to, how a batch of the entity's events revises it)
ENTITIES: Mapping[str, tuple[Callable[[Event], str], Reviser]] = {
    "customer.subscription_started": (_customer, apply_ledger),
    "customer.subscription_reactivated": (_customer, apply_ledger),
    "customer.subscription_cancelled": (_customer, apply_ledger),
    "customer.order_placed": (_customer, apply_ledger),
    "customer.ticket_opened": (_ticket, apply_ticket),
    "customer.ticket_resolved": (_ticket, apply_ticket),
    "customer.event_registered": (_attendee, apply_attendance),
    "customer.event_attended": (_attendee, apply_attendance),
}


def _label(ctx: Context, label: str, value: str) -> str:
    return ctx.labels.fold(label, sanitize(value), ctx.now_ms)


class CustomerFamily:
    """Customer events -> the ledger, tickets and attendance, revised as events arrive (DESIGN §4)."""

    name = "customer"

    def state_keys(self, events: Sequence[Event]) -> set[str]:
        return {ENTITIES[e.type][0](e) for e in events if e.type in ENTITIES}

    def apply(
        self, events: Sequence[Event], states: Mapping[str, bytes | None], ctx: Context, changes: Changes
    ) -> None:
        grouped: defaultdict[str, list[Event]] = defaultdict(list)
        revisers: dict[str, Reviser] = {}
        for event in events:
            if event.type == "customer.event_interaction":
                prop = _label(ctx, "property", event.property)
                interaction = field_name("int", prop, _label(ctx, "event", event.fields["event_name"]))
                changes.count(event.ts_ms, interaction)
                continue
            entity, revise = ENTITIES[event.type]
            key = entity(event)
            grouped[key].append(event)
            revisers[key] = revise
        for key, entity_events in grouped.items():
            prop = _label(ctx, "property", entity_events[0].property)
            revisers[key](key, entity_events, states.get(key), prop, ctx, changes)
