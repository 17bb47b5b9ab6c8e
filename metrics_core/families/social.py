"""The social family: interactions, engagement, share of voice, followers and response to inbound messages.

Counter fields (joined by `SEP`; `p` is the property, `pl` the platform):
  si p pl kind  interactions, kind in likes (like +count, unlike −count), comments, shares,
                saves, clicks                         sm p pl  impressions (+count)
  mn p          mentions (own and competitors')       mo p     own-brand mentions
  fw p pl       follows (+count)                      uf p pl  unfollows (+count)
  ri p pl       inbound conversations, at the first inbound message's time
  rr p pl       of those, conversations with a reply at or after it (same time)
  rt p pl       sum of (first reply − first inbound) in ms over those (same time)
Snapshot series: `fol p pl` follower counts from `social.followers`.
Entity state: one conversation per (property, conversation_id), see `Conversation`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import orjson

from metrics_core.events.model import Event
from metrics_core.families.base import Context, state_key
from metrics_core.families.changes import Changes, field_name
from metrics_core.labels import OTHER, sanitize

Handler = Callable[[Event, str, Context, Changes], None]

# interaction type -> (kind label, sign): an unlike takes a like back
INTERACTIONS: Mapping[str, tuple[str, int]] = {
    "social.like": ("likes", +1),
    "social.unlike": ("likes", -1),
    "social.comment": ("comments", +1),
    "social.share": ("shares", +1),
    "social.save": ("saves", +1),
    "social.click": ("clicks", +1),
}
KINDS: tuple[str, ...] = ("likes", "comments", "shares", "saves", "clicks")
CONVERSATION_TYPES = frozenset({"social.inbound_message", "social.reply"})
MAX_REPLIES = 20  # reply times kept per conversation (see `prune_replies`)


def _label(ctx: Context, label: str, value: str) -> str:
    return ctx.labels.fold(label, value, ctx.now_ms)


def _platform(event: Event, ctx: Context) -> str:
    return _label(ctx, "platform", sanitize(event.fields["platform"]))


def _interaction(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    kind, sign = INTERACTIONS[event.type]
    name = field_name("si", prop, _platform(event, ctx), kind)
    changes.count(event.ts_ms, name, sign * event.fields["count"])


def _impression(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    changes.count(event.ts_ms, field_name("sm", prop, _platform(event, ctx)), event.fields["count"])


def _mention(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    # `brand` is input only: which brand a mention names is neither stored nor exported
    changes.count(event.ts_ms, field_name("mn", prop))
    if event.fields["own"]:
        changes.count(event.ts_ms, field_name("mo", prop))


def _follow(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    code = "fw" if event.type == "social.follow" else "uf"
    changes.count(event.ts_ms, field_name(code, prop, _platform(event, ctx)), event.fields["count"])


def _followers(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    platform = _platform(event, ctx)
    if OTHER not in (prop, platform):  # snapshots of different platforms must not share a series
        changes.point(field_name("fol", prop, platform), event.ts_ms, event.fields["followers"])


HANDLERS: Mapping[str, Handler] = {
    **dict.fromkeys(INTERACTIONS, _interaction),
    "social.impression": _impression,
    "social.mention": _mention,
    "social.follow": _follow,
    "social.unfollow": _follow,
    "social.followers": _followers,
}


class Conversation(NamedTuple):
    """One conversation's state: its first inbound message and the replies that may answer it.

    `inbound_ms` is the earliest inbound message by event time (None until one arrives);
    `platform` and `prop` are the labels its contribution was counted under; `replies` are
    sorted reply times that can still be (or are) the first reply at or after the inbound.
    """

    inbound_ms: int | None
    platform: str
    prop: str
    replies: tuple[int, ...]

    @property
    def first_reply_ms(self) -> int | None:
        """The earliest reply at or after the first inbound message.

        >>> Conversation(100, "x", "p", (50, 120, 300)).first_reply_ms
        120
        """
        if self.inbound_ms is None:
            return None
        return next((r for r in self.replies if r >= self.inbound_ms), None)


def prune_replies(replies: Sequence[int], inbound_ms: int | None, oldest_ms: int) -> tuple[int, ...]:
    """The reply times worth keeping, at most `MAX_REPLIES`, sorted.

    The first inbound only ever moves earlier, so replies after the first reply can never
    become it: they go. Replies before the inbound stay (an earlier inbound may arrive),
    the latest `MAX_REPLIES − 1` of them; without an inbound, the earliest `MAX_REPLIES`
    (a delayed inbound usually precedes them). Replies at or before `oldest_ms` (the
    retention horizon) can only answer a late inbound, which is ignored: they go too.

    >>> prune_replies([300, 120, 50, 120], 100, 0)
    (50, 120)
    >>> prune_replies([300, 120, 50], None, 60)
    (120, 300)
    """
    times = sorted({r for r in replies if r > oldest_ms})
    if inbound_ms is None:
        return tuple(times[:MAX_REPLIES])
    before = [r for r in times if r < inbound_ms]
    first = [r for r in times if r >= inbound_ms][:1]
    room = MAX_REPLIES - len(first)
    return tuple(before[max(0, len(before) - room) :] + first)


def revise(conv: Conversation, events: Sequence[Event], prop: str, ctx: Context) -> Conversation:
    """The conversation after these inbound messages and replies (any order gives the same state)."""
    inbound = None if conv.inbound_ms is None else (conv.inbound_ms, conv.platform)
    replies = list(conv.replies)
    for event in events:
        if event.type == "social.reply":
            replies.append(event.ts_ms)
        else:  # the earliest inbound wins; equal times are broken by platform name
            candidate = (event.ts_ms, _platform(event, ctx))
            inbound = candidate if inbound is None else min(inbound, candidate)
    inbound_ms, platform = inbound if inbound is not None else (None, conv.platform)
    kept = prune_replies(replies, inbound_ms, ctx.now_ms - ctx.retention_ms)
    return Conversation(inbound_ms, platform, prop, kept)


def contribute(conv: Conversation, sign: int, changes: Changes) -> None:
    """Add (+1) or retract (−1) a conversation's counts, all at its first inbound's time."""
    if conv.inbound_ms is None:
        return
    at = conv.inbound_ms
    changes.count(at, field_name("ri", conv.prop, conv.platform), sign)
    first = conv.first_reply_ms
    if first is not None:
        changes.count(at, field_name("rr", conv.prop, conv.platform), sign)
        changes.count(at, field_name("rt", conv.prop, conv.platform), sign * (first - at))


def load(raw: bytes | None) -> Conversation:
    if not raw:
        return Conversation(None, "", "", ())
    inbound_ms, platform, prop, replies = orjson.loads(raw)
    return Conversation(inbound_ms, platform, prop, tuple(replies))


def dump(conv: Conversation) -> bytes:
    """Labels and times only: the conversation id lives, hashed, in the key."""
    return orjson.dumps([conv.inbound_ms, conv.platform, conv.prop, list(conv.replies)])


def conversation_key(event: Event) -> str:
    return state_key("c", event.property, event.fields["conversation_id"])


class SocialFamily:
    """Social events -> interaction counters, follower snapshots and live-revised conversations."""

    name = "social"

    def state_keys(self, events: Sequence[Event]) -> set[str]:
        return {conversation_key(e) for e in events if e.type in CONVERSATION_TYPES}

    def apply(
        self, events: Sequence[Event], states: Mapping[str, bytes | None], ctx: Context, changes: Changes
    ) -> None:
        conversations: defaultdict[str, list[Event]] = defaultdict(list)
        props: dict[str, str] = {}
        for event in events:
            prop = _label(ctx, "property", sanitize(event.property))
            if event.type in CONVERSATION_TYPES:
                key = conversation_key(event)
                conversations[key].append(event)
                props[key] = prop
            else:
                HANDLERS[event.type](event, prop, ctx, changes)
        for key, entity_events in conversations.items():
            self._revise(key, entity_events, props[key], states.get(key), ctx, changes)

    @staticmethod
    def _revise(
        key: str, events: Sequence[Event], prop: str, raw: bytes | None, ctx: Context, changes: Changes
    ) -> None:
        """Retract the conversation as it was, add it as it is now."""
        before = load(raw)
        after = revise(before, events, prop, ctx)
        contribute(before, -1, changes)
        contribute(after, +1, changes)
        if after.inbound_ms is None and not after.replies:
            changes.put_state(key, None)  # only replies past the horizon: nothing left to keep
            return
        anchor = after.inbound_ms if after.inbound_ms is not None else max(after.replies)
        changes.put_state(key, dump(after), anchor + ctx.retention_ms)
