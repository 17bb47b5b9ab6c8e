"""The email family: one state per message, anchored to its send (else delivery) time.

A message's facts merge in any order (earliest times, flags that only turn on), and the
message contributes 0 or 1 to each counter at its anchor, under its property and campaign.
When a batch changes a message, its old contribution is retracted and the new one added, so
any arrival order gives the same counters and no message counts twice.

Counter fields (joined by `SEP`; `p` property, `c` campaign), all counts of messages:
  sn p c  sent          dl p c  delivered      bo p c  bounced        dr p c  dropped
  op p c  opened        ho p c  human opened   ck p c  clicked (non-bot)
  un p c  unsubscribed  sp p c  complained     cv p c  converted
  bt p t  bounced, by bounce type t (hard, blocked, soft, unknown)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

import orjson

from metrics_core.events.model import Event
from metrics_core.families.base import Context, state_key
from metrics_core.families.changes import Changes, field_name
from metrics_core.labels import sanitize

# Facts an event can add to its message (flags only turn on).
DELIVERED, BOUNCED, DROPPED = "dl", "bo", "dr"
OPEN, HUMAN_OPEN, CLICK, BOT_CLICK = "op", "ho", "ck", "bk"
UNSUBSCRIBED, COMPLAINED, CONVERTED = "un", "sp", "cv"

# Facts that prove the message reached the recipient (a bot click too: a scanner fetched it).
ENGAGED = frozenset({OPEN, HUMAN_OPEN, CLICK, BOT_CLICK, UNSUBSCRIBED, COMPLAINED, CONVERTED})

# Bounce types, least severe first: a message that bounced twice keeps the most severe.
BOUNCE_TYPES = ("unknown", "soft", "blocked", "hard")

Facts = Callable[[Mapping[str, Any]], frozenset[str]]


def _always(*flags: str) -> Facts:
    found = frozenset(flags)
    return lambda fields: found


def _opened(fields: Mapping[str, Any]) -> frozenset[str]:
    """A machine open (Apple MPP, proxy pre-fetch) is an open, not a human one."""
    return frozenset({OPEN}) if fields.get("machine") is True else frozenset({OPEN, HUMAN_OPEN})


def _clicked(fields: Mapping[str, Any]) -> frozenset[str]:
    return frozenset({BOT_CLICK}) if fields.get("bot") is True else frozenset({CLICK})


FACTS: Mapping[str, Facts] = {
    "email.sent": _always(),
    "email.delivered": _always(DELIVERED),
    "email.bounced": _always(BOUNCED),
    "email.dropped": _always(DROPPED),
    "email.opened": _opened,
    "email.clicked": _clicked,
    "email.unsubscribed": _always(UNSUBSCRIBED),
    "email.spam_reported": _always(COMPLAINED),
    "email.converted": _always(CONVERTED),
}


@dataclass(frozen=True, slots=True)
class Message:
    """What is known of one message; `merge` is order-free (min of times, union of flags).

    `campaign` comes from the `sent` event if any, else from the earliest event (ties by
    label): `campaign_rank` = (0 for `sent` else 1, that event's time).
    """

    prop: str
    campaign: str
    campaign_rank: tuple[int, int]
    first_ms: int
    sent_ms: int | None = None
    delivered_ms: int | None = None
    flags: frozenset[str] = frozenset()
    bounce: str | None = None

    @property
    def anchor_ms(self) -> int | None:
        """The send time, else the delivery time; None: the message does not count yet."""
        return self.sent_ms if self.sent_ms is not None else self.delivered_ms

    def expire_at_ms(self, retention_ms: int) -> int:
        """Once its anchor (or first event) leaves retention, no window can show the message."""
        anchor = self.anchor_ms
        return (self.first_ms if anchor is None else anchor) + retention_ms

    def to_json(self) -> bytes:
        return orjson.dumps(
            [
                self.prop,
                self.campaign,
                list(self.campaign_rank),
                self.first_ms,
                self.sent_ms,
                self.delivered_ms,
                sorted(self.flags),
                self.bounce,
            ]
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Message:
        prop, campaign, rank, first_ms, sent_ms, delivered_ms, flags, bounce = orjson.loads(raw)
        return cls(
            prop, campaign, (rank[0], rank[1]), first_ms, sent_ms, delivered_ms, frozenset(flags), bounce
        )


def _earliest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _severest(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b, key=BOUNCE_TYPES.index)


def merge(a: Message, b: Message) -> Message:
    """The message as both know it: commutative, associative and idempotent.

    >>> x = Message("shop", "spring", (1, 5_000), 5_000, flags=frozenset({"op"}))
    >>> y = Message("shop", "fall", (0, 9_000), 9_000, sent_ms=9_000)
    >>> m = merge(x, y)
    >>> m.campaign, m.anchor_ms, m.first_ms, sorted(m.flags), merge(y, x) == m
    ('fall', 9000, 5000, ['op'], True)
    """
    # min(a, b, key=...) without the key function's calls: a on a tie, as min() does
    first = a if (a.campaign_rank, a.campaign, a.prop) <= (b.campaign_rank, b.campaign, b.prop) else b
    return Message(  # not dataclasses.replace: it inspects the fields on every call (~2 µs)
        first.prop,
        first.campaign,
        first.campaign_rank,
        min(a.first_ms, b.first_ms),
        _earliest(a.sent_ms, b.sent_ms),
        _earliest(a.delivered_ms, b.delivered_ms),
        a.flags | b.flags,
        _severest(a.bounce, b.bounce),
    )


def contribution(m: Message) -> dict[str, int]:
    """The 0/1 counts a message adds at its anchor (empty without an anchor).

    Implications keep every ratio within 0..1 (DESIGN §5): an anchored message was sent; any
    engagement proves delivery; a non-bot click proves a (human) open.

    >>> m = Message("shop", "spring", (1, 0), 0, delivered_ms=0, flags=frozenset({"ck"}))
    >>> sorted(code for code, n in contribution(m).items() if n)
    ['ck', 'dl', 'ho', 'op', 'sn']
    """
    if m.anchor_ms is None:
        return {}
    f = m.flags
    return {
        "sn": 1,
        "dl": int(DELIVERED in f or bool(f & ENGAGED)),
        "bo": int(BOUNCED in f),
        "dr": int(DROPPED in f),
        "op": int(OPEN in f or CLICK in f),
        "ho": int(HUMAN_OPEN in f or CLICK in f),
        "ck": int(CLICK in f),
        "un": int(UNSUBSCRIBED in f),
        "sp": int(COMPLAINED in f),
        "cv": int(CONVERTED in f),
    }


def record(m: Message | None, sign: int, changes: Changes) -> None:
    """Add (`sign` +1) or retract (-1) the message's contribution at its anchor."""
    if m is None or m.anchor_ms is None:
        return
    anchor = m.anchor_ms
    for code, n in contribution(m).items():
        if n:
            changes.count(anchor, field_name(code, m.prop, m.campaign), sign)
    if BOUNCED in m.flags:
        changes.count(anchor, field_name("bt", m.prop, m.bounce or "unknown"), sign)


def message_key(event: Event) -> str:
    """State key of the event's message (ids hashed: no personal data in keys)."""
    return state_key("m", event.property, str(event.fields["message_id"]))


def fact(event: Event, ctx: Context) -> Message:
    """One event as a message of its own, labels sanitised and capped."""
    fields = event.fields
    ts = event.ts_ms
    is_sent = event.type == "email.sent"
    flags = FACTS[event.type](fields)
    bounce = (fields.get("bounce_type") or "unknown") if BOUNCED in flags else None
    return Message(
        prop=ctx.labels.fold("property", sanitize(event.property), ctx.now_ms),
        campaign=ctx.labels.fold("campaign", sanitize(str(fields["campaign_id"])), ctx.now_ms),
        campaign_rank=(0 if is_sent else 1, ts),
        first_ms=ts,
        sent_ms=ts if is_sent else None,
        delivered_ms=ts if event.type == "email.delivered" else None,
        flags=flags,
        bounce=bounce,
    )


class EmailFamily:
    """Email events -> per-message state -> send-anchored counters (DESIGN §4, §5)."""

    name = "email"

    def state_keys(self, events: Sequence[Event]) -> set[str]:
        return {message_key(e) for e in events}

    def apply(
        self, events: Sequence[Event], states: Mapping[str, bytes | None], ctx: Context, changes: Changes
    ) -> None:
        facts: defaultdict[str, list[Message]] = defaultdict(list)
        for event in events:
            facts[message_key(event)].append(fact(event, ctx))
        for key, found in facts.items():
            raw = states.get(key)
            before = Message.from_json(raw) if raw else None
            after = reduce(merge, found if before is None else [before, *found])
            if after == before:
                continue  # e.g. a second open: nothing to write
            record(before, -1, changes)
            record(after, +1, changes)
            changes.put_state(key, after.to_json(), after.expire_at_ms(ctx.retention_ms))
