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
from collections.abc import Callable, Mapping, Sequence

import orjson

from metrics_core.events.model import Event
from metrics_core.families.base import Context, state_key
from metrics_core.families.changes import Changes, field_name
from metrics_core.families.sessions import Session, add_view
from metrics_core.labels import sanitize, sanitize_page

Handler = Callable[[Event, str, Context, Changes], None]


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


def _label(ctx: Context, label: str, value: str) -> str:
    return ctx.labels.fold(label, value, ctx.now_ms)


def _page_view(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    ts = event.ts_ms
    changes.count(ts, field_name("pv", prop))
    changes.count(ts, field_name("pp", prop, _label(ctx, "page", sanitize_page(event.fields["page"]))))


def _impression(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    placement = _label(ctx, "placement", sanitize(event.fields["placement"]))
    changes.count(event.ts_ms, field_name("im", prop, placement))


def _click(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    placement = _label(ctx, "placement", sanitize(event.fields["placement"]))
    changes.count(event.ts_ms, field_name("ck", prop, placement))


def _conversion(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    goal = _label(ctx, "goal", sanitize(event.fields["goal"]))
    changes.count(event.ts_ms, field_name("cv", prop, goal))
    visitor = visitor_of(event)
    if visitor:
        changes.unique(event.ts_ms, field_name("cvv", prop, goal), visitor)


def _feature_used(event: Event, prop: str, ctx: Context, changes: Changes) -> None:
    feature = _label(ctx, "feature", sanitize(event.fields["feature"]))
    changes.count(event.ts_ms, field_name("fu", prop, feature))
    changes.unique(event.ts_ms, field_name("fuu", prop, feature), event.fields["user_id"])


HANDLERS: Mapping[str, Handler] = {
    "clickstream.page_view": _page_view,
    "clickstream.impression": _impression,
    "clickstream.click": _click,
    "clickstream.conversion": _conversion,
    "clickstream.feature_used": _feature_used,
}


def _session_changes(sessions: list[Session], sign: int, prop: str, changes: Changes) -> None:
    for s in sessions:
        changes.count(s.first_ms, field_name("ss", prop), sign)
        if s.bounced:
            changes.count(s.first_ms, field_name("bs", prop), sign)
        if s.duration_ms:
            changes.count(s.first_ms, field_name("sd", prop), sign * s.duration_ms)
        changes.count(s.exit_ms, field_name("ex", prop, s.exit_page), sign)


def _load(raw: bytes | None, live_from_ms: int) -> list[Session]:
    if not raw:
        return []
    return [s for s in map(Session._make, orjson.loads(raw)) if s.last_ms >= live_from_ms]


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
        for event in events:
            prop = _label(ctx, "property", sanitize(event.property))
            HANDLERS[event.type](event, prop, ctx, changes)
            visitor = visitor_of(event)
            if visitor and event.type in VISIT_TYPES:
                changes.unique(event.ts_ms, field_name("uv", prop), visitor)
            user = event.fields.get("user_id")
            if user:
                changes.unique(event.ts_ms, field_name("au", prop), user)
            if event.type == "clickstream.page_view":
                page = _label(ctx, "page", sanitize_page(event.fields["page"]))
                explicit = bool(event.fields.get("session_id"))
                views[session_entity(event)].append((event.ts_ms, page, prop, explicit))
        for key, entity_views in views.items():
            self._revise(key, entity_views, states.get(key), ctx, changes)

    @staticmethod
    def _revise(
        key: str,
        entity_views: list[tuple[int, str, str, bool]],
        raw: bytes | None,
        ctx: Context,
        changes: Changes,
    ) -> None:
        """Retract the entity's sessions as they were, add them as they are now."""
        before = _load(raw, ctx.now_ms - ctx.retention_ms)
        after = list(before)
        prop = entity_views[0][2]
        timeout = None if entity_views[0][3] else ctx.session_timeout_ms
        for ts_ms, page, _, _ in entity_views:
            after = add_view(after, ts_ms, page, timeout)
        kept = set(before).intersection(after)  # unchanged sessions would cancel out anyway
        _session_changes([x for x in before if x not in kept], -1, prop, changes)
        _session_changes([x for x in after if x not in kept], +1, prop, changes)
        expire_at = max(s.last_ms for s in after) + ctx.retention_ms
        changes.put_state(key, orjson.dumps([list(s) for s in after]), expire_at)
