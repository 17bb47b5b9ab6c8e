"""Web gauges per window, from the summed counters and unique-set counts of the clickstream shards."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from metrics_core.exposition import emit
from metrics_core.exposition.emit import Emitter, Spec
from metrics_core.exposition.metricset import MetricSet
from metrics_core.exposition.views import FamilyView, WindowView
from metrics_core.families.changes import SEP, field_name
from metrics_core.families.web import UNIQUE_WITNESSES
from metrics_core.formulas import mean_duration_seconds
from metrics_core.labels import kept_values

# name: what it is, its extra label, its kind (see emit.Spec)
SPECS: Mapping[str, Spec] = {
    "pulse_page_views": Spec("Page views in the window."),
    "pulse_unique_visitors": Spec(
        "Distinct visitors (anonymous_id, else user_id) over page views, impressions, clicks "
        "and conversions (HyperLogLog)."
    ),
    "pulse_sessions": Spec("Sessions whose first page view falls in the window."),
    "pulse_bounced_sessions": Spec("Of those sessions, the ones with exactly one page view."),
    "pulse_bounce_ratio": Spec("Bounced sessions / sessions.", kind="proportion"),
    "pulse_session_duration_seconds": Spec(
        "Mean duration (last - first page view) of sessions started in the window; bounces count 0 s."
    ),
    "pulse_page_exit_ratio": Spec("Exits from the page / page views of the page.", ("page",), "proportion"),
    "pulse_page_exits": Spec("Sessions whose last page view was this page, at that view's time.", ("page",)),
    "pulse_page_views_by_page": Spec("Page views of the page.", ("page",)),
    "pulse_click_through_ratio": Spec("Clicks / impressions of the placement.", ("placement",), "proportion"),
    "pulse_clicks": Spec("Clicks on the placement.", ("placement",)),
    "pulse_impressions": Spec("Impressions of the placement.", ("placement",)),
    "pulse_conversion_ratio": Spec("Converting visitors / unique visitors.", ("goal",), "proportion"),
    "pulse_converting_visitors": Spec("Distinct visitors converting on the goal (HyperLogLog).", ("goal",)),
    "pulse_feature_adoption_ratio": Spec(
        "Users of the feature / active users (both HyperLogLog).", ("feature",), "proportion"
    ),
    "pulse_feature_users": Spec("Distinct users (user_id) of the feature (HyperLogLog).", ("feature",)),
    "pulse_active_users": Spec("Distinct users (user_id) with any clickstream event (HyperLogLog)."),
}


def declare(out: MetricSet) -> None:
    emit.declare(out, SPECS)


def collect(family: FamilyView, windows: Sequence[WindowView], out: MetricSet, cap: int) -> None:
    """Every web gauge of every window; a property seen in any window gets zero counts when quiet."""
    known = set().union(*(properties(view.counters) for view in windows))
    for view in windows:
        collect_window(view, cap, Emitter(out, SPECS, view.label), known)


def _parse(counters: Mapping[str, int]) -> dict[str, dict[tuple[str, ...], int]]:
    """`{'pp\\x1fshop\\x1f/a': 3}` -> `{'pp': {('shop', '/a'): 3}}`."""
    parsed: defaultdict[str, dict[tuple[str, ...], int]] = defaultdict(dict)
    for name, value in counters.items():
        code, *rest = name.split(SEP)
        parsed[code][tuple(rest)] = value
    return parsed


def _folded(values: Mapping[tuple[str, ...], int], kept: frozenset[str]) -> dict[tuple[str, str], int]:
    out: defaultdict[tuple[str, str], int] = defaultdict(int)
    for (prop, label), value in values.items():
        out[(prop, label if label in kept else "__other__")] += value
    return out


def _kept(*groups: Mapping[tuple[str, ...], int], cap: int) -> frozenset[str]:
    weights: defaultdict[str, float] = defaultdict(float)
    for group in groups:
        for (_, label), value in group.items():
            weights[label] += value
    return kept_values(weights, cap)


def properties(counters: Mapping[str, int]) -> set[str]:
    """The properties that have any counter in these counters."""
    return {name.split(SEP, 2)[1] for name in counters}


def collect_window(view: WindowView, cap: int, emit: Emitter, known_properties: Iterable[str] = ()) -> None:
    """Add every web gauge of one window."""
    c = _parse(view.counters)
    props = properties(view.counters) | set(known_properties)
    _page_metrics(c, cap, emit)
    _placement_metrics(c, cap, emit)
    unique_groups = {field_name(code, p): [field_name(code, p)] for p in props for code in ("uv", "au")}
    goal_members = _members(c["cv"], _kept(c["cv"], cap=cap), "cvv")
    feature_members = _members(c["fu"], _kept(c["fu"], cap=cap), "fuu")
    counts = view.uniques({**unique_groups, **goal_members, **feature_members}, UNIQUE_WITNESSES)
    for prop in sorted(props):
        ss, bs = c["ss"].get((prop,), 0), c["bs"].get((prop,), 0)
        emit.gauge("pulse_page_views", prop, c["pv"].get((prop,), 0))
        emit.gauge("pulse_unique_visitors", prop, counts[field_name("uv", prop)])
        emit.gauge("pulse_active_users", prop, counts[field_name("au", prop)])
        emit.gauge("pulse_sessions", prop, ss)
        emit.gauge("pulse_bounced_sessions", prop, bs)
        emit.ratio("pulse_bounce_ratio", prop, bs, ss)
        emit.gauge("pulse_session_duration_seconds", prop, mean_duration_seconds(c["sd"].get((prop,), 0), ss))
    for key in goal_members:
        _, prop, goal = key.split(SEP)
        emit.gauge("pulse_converting_visitors", prop, counts[key], goal)
        emit.ratio("pulse_conversion_ratio", prop, counts[key], counts[field_name("uv", prop)], goal)
    for key in feature_members:
        _, prop, feature = key.split(SEP)
        emit.gauge("pulse_feature_users", prop, counts[key], feature)
        emit.ratio("pulse_feature_adoption_ratio", prop, counts[key], counts[field_name("au", prop)], feature)


def _members(counts: Mapping[tuple[str, ...], int], kept: frozenset[str], code: str) -> dict[str, list[str]]:
    """Unique-set groups per exported label value; folded values union into `__other__`."""
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for prop, label in counts:
        shown = label if label in kept else "__other__"
        groups[field_name(code, prop, shown)].append(field_name(code, prop, label))
    return dict(groups)


def _page_metrics(c: Mapping[str, Mapping[tuple[str, ...], int]], cap: int, emit: Emitter) -> None:
    kept = _kept(c["pp"], cap=cap)
    views, exits = _folded(c["pp"], kept), _folded(c["ex"], kept)
    for (prop, page), n in sorted(views.items()):
        exited = exits.get((prop, page), 0)
        emit.gauge("pulse_page_views_by_page", prop, n, page)
        emit.gauge("pulse_page_exits", prop, exited, page)
        emit.ratio("pulse_page_exit_ratio", prop, exited, n, page)


def _placement_metrics(c: Mapping[str, Mapping[tuple[str, ...], int]], cap: int, emit: Emitter) -> None:
    kept = _kept(c["im"], c["ck"], cap=cap)
    impressions, clicks = _folded(c["im"], kept), _folded(c["ck"], kept)
    for prop, placement in sorted(set(impressions) | set(clicks)):
        shown, clicked = impressions.get((prop, placement), 0), clicks.get((prop, placement), 0)
        emit.gauge("pulse_impressions", prop, shown, placement)
        emit.gauge("pulse_clicks", prop, clicked, placement)
        emit.ratio("pulse_click_through_ratio", prop, clicked, shown, placement)
