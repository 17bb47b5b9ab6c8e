"""The web (clickstream) family: page views, visitors, sessions, exits, CTR, conversion, adoption.

Counter fields (joined by `SEP`; `p` is the property):
  pv p            page views            pp p page      page views of a page
  ss p            sessions started      bs p           bounced sessions
  sd p            session duration ms   ex p page      exits from a page (at the exit view)
  im p placement  impressions           ck p placement clicks
  cv p goal       conversions           fu p feature   feature uses
Unique sets (HyperLogLog): uv p visitors, au p active users (user_id), cvv p goal converting
visitors, fuu p feature users of a feature.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from metrics_core.events.model import Event
from metrics_core.families.base import Context, state_key
from metrics_core.families.changes import Changes, field_name
from metrics_core.families.sessions import Session, add_view
from metrics_core.labels import sanitize, sanitize_page

# Events that make someone a visitor; feature_used is product telemetry (user_id only) and
# counts toward active users instead, so a back-end feature event does not add a "visitor".
VISIT_TYPES = frozenset(
    {
        "clickstream.page_view",
        "clickstream.impression",
        "clickstream.click",
        "clickstream.conversion",
    }
)


# Counts recorded with every add to a unique set, by the same event: a set `<code> SEP <rest>`
# always comes with a count `<one of these codes> SEP <rest> [SEP <label>]` in the same second
# (uv p with pv p, or im/ck/cv p <label>), never retracted. The exporter reads a set only in
# the buckets that hold one of them (views.WindowView.uniques).
UNIQUE_WITNESSES: Mapping[str, tuple[str, ...]] = {
    "uv": ("pv", "im", "ck", "cv"),  # VISIT_TYPES
    "au": ("pv", "im", "ck", "cv", "fu"),  # any event with a user_id
    "cvv": ("cv",),
    "fuu": ("fu",),
}


def visitor_of(event: Event) -> str | None:
    """The visitor: the device's anonymous id, else the user id (stable across a login)."""
    fields = event.fields
    return fields.get("anonymous_id") or fields.get("user_id")


def session_entity(event: Event) -> str:
    """State key of the page view's session owner: its session_id, else its visitor."""
    sid = event.fields.get("session_id")
    if sid:
        return state_key("s", event.property, sid)
    return state_key("v", event.property, visitor_of(event) or event.event_id)


class _Labels:
    """One batch's label values and counter names, each sanitised and folded once per batch.

    Label values repeat heavily within a batch (a few properties, pages and placements), and
    folding the same value twice in a batch gives the same answer, so the batch keeps them.
    """

    __slots__ = ("_ctx", "_exits", "_names", "_values")

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._values: dict[tuple[str, str], str] = {}
        self._names: dict[tuple[str, str, str, str], str] = {}
        self._exits: dict[tuple[str, str], str] = {}

    def value(self, label: str, raw: str) -> str:
        """`raw` sanitised (a page loses its query string) and folded under the label cap."""
        folded = self._values.get((label, raw))
        if folded is None:
            clean = sanitize_page(raw) if label == "page" else sanitize(raw)
            folded = self._values[(label, raw)] = self._ctx.labels.fold(label, clean, self._ctx.now_ms)
        return folded

    def name(self, kind: str, prop: str, label: str = "", raw: str = "") -> str:
        """The counter name `kind SEP prop [SEP folded value]`: `name("pp", "shop", "page", "/a?x")`."""
        key = (kind, prop, label, raw)
        found = self._names.get(key)
        if found is None:
            parts = (kind, prop, self.value(label, raw)) if label else (kind, prop)
            found = self._names[key] = field_name(*parts)
        return found

    def exit_name(self, prop: str, page: str) -> str:
        """The exits counter of an already folded `page` (sessions keep their pages folded)."""
        found = self._exits.get((prop, page))
        if found is None:
            found = self._exits[(prop, page)] = field_name("ex", prop, page)
        return found


def _page_view(event: Event, prop: str, labels: _Labels, changes: Changes) -> None:
    ts = event.ts_ms
    changes.count(ts, labels.name("pv", prop))
    changes.count(ts, labels.name("pp", prop, "page", event.fields["page"]))


def _impression(event: Event, prop: str, labels: _Labels, changes: Changes) -> None:
    changes.count(event.ts_ms, labels.name("im", prop, "placement", event.fields["placement"]))


def _click(event: Event, prop: str, labels: _Labels, changes: Changes) -> None:
    changes.count(event.ts_ms, labels.name("ck", prop, "placement", event.fields["placement"]))


def _conversion(event: Event, prop: str, labels: _Labels, changes: Changes) -> None:
    goal = event.fields["goal"]
    changes.count(event.ts_ms, labels.name("cv", prop, "goal", goal))
    visitor = visitor_of(event)
    if visitor:
        changes.unique(event.ts_ms, labels.name("cvv", prop, "goal", goal), visitor)


def _feature_used(event: Event, prop: str, labels: _Labels, changes: Changes) -> None:
    feature = event.fields["feature"]
    changes.count(event.ts_ms, labels.name("fu", prop, "feature", feature))
    changes.unique(event.ts_ms, labels.name("fuu", prop, "feature", feature), event.fields["user_id"])


def _count(event: Event, prop: str, labels: _Labels, changes: Changes) -> None:
    """The event's own counters (and unique sets) by type: direct calls, no lookup per event."""
    event_type = event.type
    if event_type == "clickstream.page_view":
        _page_view(event, prop, labels, changes)
    elif event_type == "clickstream.impression":
        _impression(event, prop, labels, changes)
    elif event_type == "clickstream.click":
        _click(event, prop, labels, changes)
    elif event_type == "clickstream.conversion":
        _conversion(event, prop, labels, changes)
    elif event_type == "clickstream.feature_used":
        _feature_used(event, prop, labels, changes)


def _session_changes(
    sessions: list[Session], sign: int, prop: str, labels: _Labels, changes: Changes
) -> None:
    started, bounced, duration = labels.name("ss", prop), labels.name("bs", prop), labels.name("sd", prop)
    count = changes.count
    for first_ms, last_ms, views, exit_ms, exit_page in sessions:
        count(first_ms, started, sign)
        if views == 1:
            count(first_ms, bounced, sign)
        if last_ms > first_ms:
            count(first_ms, duration, sign * (last_ms - first_ms))
        count(exit_ms, labels.exit_name(prop, exit_page), sign)


class WebFamily:
    """Clickstream events -> counters, uniques and live-revised sessions (DESIGN §4)."""

    name = "clickstream"

    def state_keys(self, events: Sequence[Event]) -> set[str]:
        return {session_entity(e) for e in events if e.type == "clickstream.page_view"}

    def apply(
        self,
        events: Sequence[Event],
        states: Mapping[str, bytes | None],
        ctx: Context,
        changes: Changes,
    ) -> None:
        views: defaultdict[str, list[tuple[int, str, str, bool]]] = defaultdict(list)
        labels = _Labels(ctx)
        for event in events:
            prop = labels.value("property", event.property)
            _count(event, prop, labels, changes)
            fields = event.fields
            visitor = fields.get("anonymous_id") or fields.get("user_id")
            if visitor and event.type in VISIT_TYPES:
                changes.unique(event.ts_ms, labels.name("uv", prop), visitor)
            user = fields.get("user_id")
            if user:
                changes.unique(event.ts_ms, labels.name("au", prop), user)
            if event.type == "clickstream.page_view":
                page = labels.value("page", fields["page"])
                explicit = bool(fields.get("session_id"))
                views[session_entity(event)].append((event.ts_ms, page, prop, explicit))
        for key, entity_views in views.items():
            self._revise(key, entity_views, states.get(key), ctx, labels, changes)

    @staticmethod
    def _revise(
        key: str,
        entity_views: list[tuple[int, str, str, bool]],
        raw: bytes | None,
        ctx: Context,
        labels: _Labels,
        changes: Changes,
    ) -> None:
        """The entity's sessions (stored as JSON lists) revised by this batch's views of it."""
        live_from_ms = ctx.now_ms - ctx.retention_ms
        stored: list[list[Any]] = [s for s in orjson.loads(raw) if s[1] >= live_from_ms] if raw else []
        prop = entity_views[0][2]
        timeout = None if entity_views[0][3] else ctx.session_timeout_ms
        if len(entity_views) == 1 and len(stored) <= 1:  # nearly every entity of a batch
            ts_ms, page = entity_views[0][0], entity_views[0][1]
            _one_view(key, stored[0] if stored else None, ts_ms, page, prop, timeout, ctx, labels, changes)
            return
        _revise_sessions(key, [Session._make(s) for s in stored], entity_views, timeout, ctx, labels, changes)


def _revise_sessions(
    key: str,
    before: list[Session],
    entity_views: list[tuple[int, str, str, bool]],
    timeout: int | None,
    ctx: Context,
    labels: _Labels,
    changes: Changes,
) -> None:
    """Any views, any live sessions: retract the sessions as they were, add them as they are now."""
    prop = entity_views[0][2]
    after = list(before)
    for ts_ms, page, _, _ in entity_views:
        after = add_view(after, ts_ms, page, timeout)
    kept = set(before).intersection(after)  # unchanged sessions would cancel out anyway
    _session_changes([x for x in before if x not in kept], -1, prop, labels, changes)
    _session_changes([x for x in after if x not in kept], +1, prop, labels, changes)
    expire_at = max(s.last_ms for s in after) + ctx.retention_ms
    changes.put_state(key, orjson.dumps([list(s) for s in after]), expire_at)


def _one_view(
    key: str,
    old: list[Any] | None,
    ts_ms: int,
    page: str,
    prop: str,
    timeout: int | None,
    ctx: Context,
    labels: _Labels,
    changes: Changes,
) -> None:
    """`WebFamily._revise` for one view and at most one live session, as net deltas.

    The same changes as retracting the session and adding the revised one (zero deltas left
    out), without building the sessions: most page views of a batch are a visitor's first in
    retention or the next view of their one open session.
    """
    count = changes.count
    started = labels.name("ss", prop)
    if old is None or not (timeout is None or old[0] - timeout <= ts_ms <= old[1] + timeout):
        count(ts_ms, started)  # a session of its own: one view, a bounce, no duration
        count(ts_ms, labels.name("bs", prop))
        count(ts_ms, labels.exit_name(prop, page))
        new: list[Any] = [ts_ms, ts_ms, 1, ts_ms, page]
        sessions = [new] if old is None else sorted([old, new])
        expire_at = max(s[1] for s in sessions) + ctx.retention_ms
        changes.put_state(key, orjson.dumps(sessions), expire_at)
        return
    first_ms, last_ms, views, exit_ms, exit_page = old
    new_first, new_last = min(first_ms, ts_ms), max(last_ms, ts_ms)
    new_exit_ms, new_exit_page = max((exit_ms, exit_page), (ts_ms, page))
    duration = labels.name("sd", prop)
    if new_first != first_ms:
        count(first_ms, started, -1)
        count(new_first, started)
        if last_ms > first_ms:
            count(first_ms, duration, first_ms - last_ms)
        count(new_first, duration, new_last - new_first)
    elif new_last != last_ms:
        count(first_ms, duration, new_last - last_ms)
    if views == 1:
        count(first_ms, labels.name("bs", prop), -1)
    if new_exit_ms != exit_ms or new_exit_page != exit_page:
        count(exit_ms, labels.exit_name(prop, exit_page), -1)
        count(new_exit_ms, labels.exit_name(prop, new_exit_page))
    sessions = [[new_first, new_last, views + 1, new_exit_ms, new_exit_page]]
    changes.put_state(key, orjson.dumps(sessions), new_last + ctx.retention_ms)
