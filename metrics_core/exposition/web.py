"""Web gauges for one window, from the window's summed counters and unique-set counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence

from metrics_core.exposition.metricset import MetricSet
from metrics_core.families.changes import SEP, field_name
from metrics_core.formulas import bounce_ratio, click_through_ratio, mean_duration_seconds, ratio
from metrics_core.labels import kept_values

UniqueCounter = Callable[[Mapping[str, Sequence[str]]], dict[str, int]]

# name: (help, extra label)
GAUGES: Mapping[str, tuple[str, str | None]] = {
    "pulse_page_views": ("Page views in the window.", None),
    "pulse_unique_visitors": (
        "Distinct visitors (anonymous_id, else user_id) in the window (HyperLogLog).",
        None,
    ),
    "pulse_sessions": ("Sessions whose first page view falls in the window.", None),
    "pulse_bounced_sessions": ("Of those sessions, the ones with exactly one page view.", None),
    "pulse_bounce_ratio": ("Bounced sessions / sessions.", None),
    "pulse_session_duration_seconds": (
        "Mean duration (last - first page view) of sessions started in the window; bounces count 0 s.",
        None,
    ),
    "pulse_page_exit_ratio": ("Exits from the page / page views of the page.", "page"),
    "pulse_page_exits": (
        "Sessions whose last page view was this page, at that view's time.",
        "page",
    ),
    "pulse_page_views_by_page": ("Page views of the page.", "page"),
    "pulse_click_through_ratio": ("Clicks / impressions of the placement.", "placement"),
    "pulse_clicks": ("Clicks on the placement.", "placement"),
    "pulse_impressions": ("Impressions of the placement.", "placement"),
    "pulse_conversion_ratio": ("Converting visitors / unique visitors.", "goal"),
    "pulse_converting_visitors": (
        "Distinct visitors converting on the goal (HyperLogLog).",
        "goal",
    ),
    "pulse_feature_adoption_ratio": (
        "Users of the feature / active users (both HyperLogLog).",
        "feature",
    ),
    "pulse_feature_users": ("Distinct users (user_id) of the feature (HyperLogLog).", "feature"),
    "pulse_active_users": (
        "Distinct users (user_id) with any clickstream event (HyperLogLog).",
        None,
    ),
}


def declare(out: MetricSet) -> None:
    for name, (help_text, extra) in GAUGES.items():
        out.declare(name, "gauge", help_text, ("window", "property", *((extra,) if extra else ())))


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


def collect_window(
    window: str,
    counters: Mapping[str, int],
    uniques: UniqueCounter,
    cap: int,
    out: MetricSet,
    known_properties: Iterable[str] = (),
) -> None:
    """Add every web gauge of one window to `out`; `known_properties` get zero counts when quiet."""
    c = _parse(counters)
    props = properties(counters) | set(known_properties)

    def put(name: str, prop: str, value: float | None, label: str | None = None) -> None:
        if value is None:
            return
        labels = {"window": window, "property": prop}
        extra = GAUGES[name][1]
        if extra:
            labels[extra] = label or ""
        out.add(name, labels, value)

    _page_metrics(c, cap, put)
    _placement_metrics(c, cap, put)
    unique_groups = {field_name(code, p): [field_name(code, p)] for p in props for code in ("uv", "au")}
    goals_kept = _kept(c["cv"], cap=cap)
    features_kept = _kept(c["fu"], cap=cap)
    goal_members = _members(c["cv"], goals_kept, "cvv")
    feature_members = _members(c["fu"], features_kept, "fuu")
    counts = uniques({**unique_groups, **goal_members, **feature_members})
    for prop in sorted(props):
        ss, bs = c["ss"].get((prop,), 0), c["bs"].get((prop,), 0)
        visitors, users = counts[field_name("uv", prop)], counts[field_name("au", prop)]
        put("pulse_page_views", prop, c["pv"].get((prop,), 0))
        put("pulse_unique_visitors", prop, visitors)
        put("pulse_active_users", prop, users)
        put("pulse_sessions", prop, ss)
        put("pulse_bounced_sessions", prop, bs)
        put("pulse_bounce_ratio", prop, bounce_ratio(bs, ss))
        put(
            "pulse_session_duration_seconds",
            prop,
            mean_duration_seconds(c["sd"].get((prop,), 0), ss),
        )
    for key in goal_members:
        _, prop, goal = key.split(SEP)
        converting = counts[key]
        visitors = counts[field_name("uv", prop)]
        put("pulse_converting_visitors", prop, converting, goal)
        put("pulse_conversion_ratio", prop, ratio(converting, visitors), goal)
    for key in feature_members:
        _, prop, feature = key.split(SEP)
        users = counts[key]
        put("pulse_feature_users", prop, users, feature)
        put(
            "pulse_feature_adoption_ratio",
            prop,
            ratio(users, counts[field_name("au", prop)]),
            feature,
        )


def _members(counts: Mapping[tuple[str, ...], int], kept: frozenset[str], code: str) -> dict[str, list[str]]:
    """Unique-set groups per exported label value; folded values union into `__other__`."""
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for prop, label in counts:
        shown = label if label in kept else "__other__"
        groups[field_name(code, prop, shown)].append(field_name(code, prop, label))
    return dict(groups)


def _page_metrics(
    c: Mapping[str, Mapping[tuple[str, ...], int]],
    cap: int,
    put: Callable[[str, str, float | None, str | None], None],
) -> None:
    kept = _kept(c["pp"], cap=cap)
    views, exits = _folded(c["pp"], kept), _folded(c["ex"], kept)
    for (prop, page), n in sorted(views.items()):
        exited = exits.get((prop, page), 0)
        put("pulse_page_views_by_page", prop, n, page)
        put("pulse_page_exits", prop, exited, page)
        put("pulse_page_exit_ratio", prop, ratio(exited, n), page)


def _placement_metrics(
    c: Mapping[str, Mapping[tuple[str, ...], int]],
    cap: int,
    put: Callable[[str, str, float | None, str | None], None],
) -> None:
    kept = _kept(c["im"], c["ck"], cap=cap)
    impressions, clicks = _folded(c["im"], kept), _folded(c["ck"], kept)
    for prop, placement in sorted(set(impressions) | set(clicks)):
        shown, clicked = impressions.get((prop, placement), 0), clicks.get((prop, placement), 0)
        put("pulse_impressions", prop, shown, placement)
        put("pulse_clicks", prop, clicked, placement)
        put("pulse_click_through_ratio", prop, click_through_ratio(clicked, shown), placement)
