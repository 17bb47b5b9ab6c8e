"""Social gauges per window: interactions and engagement, share of voice, followers, response to inbound."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from metrics_core.exposition import emit
from metrics_core.exposition.emit import Emitter, Spec
from metrics_core.exposition.metricset import MetricSet
from metrics_core.exposition.views import FamilyView, WindowView
from metrics_core.families.changes import SEP
from metrics_core.families.social import KINDS
from metrics_core.formulas import ratio
from metrics_core.labels import OTHER, kept_values

# name: what it is, its extra labels, its kind (see emit.Spec)
SPECS: Mapping[str, Spec] = {
    "pulse_social_interactions": Spec(
        "Interactions of the kind: likes net of unlikes (negative when unlikes outnumber likes), "
        "comments, shares, saves, clicks; each event counts its `count`.",
        ("platform", "kind"),
    ),
    "pulse_social_impressions": Spec("Impressions (each event counts its `count`).", ("platform",)),
    "pulse_social_engagement_ratio": Spec(
        "(likes − unlikes + comments + shares + saves + clicks) / impressions.", ("platform",), "ratio"
    ),
    "pulse_social_mentions": Spec("Mentions of our brand and of tracked competitors."),
    "pulse_social_own_mentions": Spec("Mentions of our brand."),
    "pulse_social_share_of_voice_ratio": Spec("Own-brand mentions / all mentions.", kind="proportion"),
    "pulse_social_follows": Spec("New followers (follow events, each counting its `count`).", ("platform",)),
    "pulse_social_unfollows": Spec(
        "Lost followers (unfollow events, each counting its `count`).", ("platform",)
    ),
    "pulse_social_followers_at_window_start": Spec(
        "The latest follower snapshot at or before the window start (now − window).", ("platform",)
    ),
    "pulse_social_follower_growth_ratio": Spec(
        "(followers now − followers at window start) / followers at window start.", ("platform",), "ratio"
    ),
    "pulse_social_inbound_conversations": Spec(
        "Conversations whose first inbound message falls in the window.", ("platform",)
    ),
    "pulse_social_replied_conversations": Spec(
        "Of those, conversations with a reply at or after the first inbound message.", ("platform",)
    ),
    "pulse_social_response_seconds": Spec(
        "Mean time from the first inbound message to the first reply, over replied conversations.",
        ("platform",),
    ),
    "pulse_social_response_ratio": Spec(
        "Replied conversations / inbound conversations.", ("platform",), "proportion"
    ),
}
# gauges of the present (no window label)
PRESENT: Mapping[str, Spec] = {
    "pulse_social_followers": Spec("The latest follower snapshot of the platform.", ("platform",)),
}

Counts = Mapping[str, Mapping[tuple[str, ...], int]]  # code -> {(property, platform, ...): n}
PLATFORM_CODES = ("si", "sm", "fw", "uf", "ri", "rr", "rt")
GROUPS: Mapping[str, tuple[str, ...]] = {  # metric group -> the counters that make a platform known
    "engagement": ("si", "sm"),
    "follows": ("fw", "uf"),
    "response": ("ri", "rr", "rt"),
}


def declare(out: MetricSet) -> None:
    emit.declare(out, SPECS)
    emit.declare(out, PRESENT, windowed=False)


def collect(family: FamilyView, windows: Sequence[WindowView], out: MetricSet, cap: int) -> None:
    """Every social gauge; a (property, platform) seen in any window gets zero counts when quiet."""
    parsed = [_parse(view.counters) for view in windows]
    series = _series(family.series_names())
    kept = kept_values(_platform_weights(parsed, series), cap)
    folded = [_fold(c, kept) for c in parsed]
    followers = _shown_series(series, kept)
    known = {group: _pairs(folded, codes) for group, codes in GROUPS.items()}
    props = {key[0] for c in folded for code in ("mn", "mo") for key in c.get(code, {})}
    latest = {name: family.series_at(name, family.now_ms) for names in followers.values() for name in names}
    present = Emitter(out, PRESENT, None)
    for (prop, platform), names in sorted(followers.items()):
        values = [point[1] for point in (latest[name] for name in names) if point is not None]
        present.gauge("pulse_social_followers", prop, sum(values) if values else None, platform)
    for view, c in zip(windows, folded, strict=True):
        emitter = Emitter(out, SPECS, view.label)
        _engagement(c, known["engagement"], emitter)
        _follows(c, known["follows"], emitter)
        _responses(c, known["response"], emitter)
        _share_of_voice(c, props, emitter)
        _growth(family, followers, latest, view.start_ms, emitter)


# --- formulas (pure)


def net_interactions(by_kind: Mapping[str, int]) -> int:
    """Every interaction of a platform: likes are already net of unlikes.

    >>> net_interactions({"likes": -2, "comments": 5, "shares": 1, "saves": 0, "clicks": 4})
    8
    """
    return sum(by_kind.values())


def mean_response_seconds(response_ms_sum: int, replied: int) -> float | None:
    """Mean time to first reply; None without replied conversations.

    >>> mean_response_seconds(450_000, 3)  # 450 s over 3 conversations
    150.0
    """
    return ratio(response_ms_sum / 1000, replied)


# --- reading counters and series


def _parse(counters: Mapping[str, int]) -> dict[str, dict[tuple[str, ...], int]]:
    """`{'sm\\x1fshop\\x1fx': 3}` -> `{'sm': {('shop', 'x'): 3}}`."""
    parsed: defaultdict[str, dict[tuple[str, ...], int]] = defaultdict(dict)
    for name, value in counters.items():
        code, *rest = name.split(SEP)
        parsed[code][tuple(rest)] = value
    return dict(parsed)


def _series(names: Iterable[str]) -> dict[tuple[str, str], str]:
    """Follower series by (property, platform): `fol\\x1fshop\\x1fx` -> {('shop', 'x'): name}."""
    found: dict[tuple[str, str], str] = {}
    for name in names:
        code, *rest = name.split(SEP)
        if code == "fol" and len(rest) == 2:
            found[(rest[0], rest[1])] = name
    return found


def _platform_weights(parsed: Sequence[Counts], series: Mapping[tuple[str, str], str]) -> dict[str, float]:
    """Traffic per platform over every window, for the exporter-side label cap."""
    weights: defaultdict[str, float] = defaultdict(float)
    for c in parsed:
        for code in PLATFORM_CODES:
            for key, value in c.get(code, {}).items():
                weights[key[1]] += abs(value) if code != "rt" else 0
    for _, platform in series:
        weights[platform] += 1
    return dict(weights)


def _fold(c: Counts, kept: frozenset[str]) -> dict[str, dict[tuple[str, ...], int]]:
    """Platforms outside `kept` summed into `__other__` (shards admit platforms independently)."""
    out: dict[str, dict[tuple[str, ...], int]] = {}
    for code, values in c.items():
        folded: defaultdict[tuple[str, ...], int] = defaultdict(int)
        for key, value in values.items():
            shown = key if code not in PLATFORM_CODES or key[1] in kept else (key[0], OTHER, *key[2:])
            folded[shown] += value
        out[code] = dict(folded)
    return out


def _shown_series(
    series: Mapping[tuple[str, str], str], kept: frozenset[str]
) -> dict[tuple[str, str], list[str]]:
    shown: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for (prop, platform), name in series.items():
        shown[(prop, platform if platform in kept else OTHER)].append(name)
    return dict(shown)


def _pairs(folded: Sequence[Counts], codes: Sequence[str]) -> set[tuple[str, str]]:
    """(property, platform) pairs with any of these counters in any window."""
    return {(key[0], key[1]) for c in folded for code in codes for key in c.get(code, {})}


# --- one window's gauges


def _engagement(c: Counts, pairs: Iterable[tuple[str, str]], emitter: Emitter) -> None:
    interactions, impressions = c.get("si", {}), c.get("sm", {})
    for prop, platform in sorted(pairs):
        by_kind = {kind: interactions.get((prop, platform, kind), 0) for kind in KINDS}
        for kind, n in by_kind.items():
            emitter.gauge("pulse_social_interactions", prop, n, platform, kind)
        shown = impressions.get((prop, platform), 0)
        emitter.gauge("pulse_social_impressions", prop, shown, platform)
        emitter.ratio("pulse_social_engagement_ratio", prop, net_interactions(by_kind), shown, platform)


def _follows(c: Counts, pairs: Iterable[tuple[str, str]], emitter: Emitter) -> None:
    for prop, platform in sorted(pairs):
        emitter.gauge("pulse_social_follows", prop, c.get("fw", {}).get((prop, platform), 0), platform)
        emitter.gauge("pulse_social_unfollows", prop, c.get("uf", {}).get((prop, platform), 0), platform)


def _responses(c: Counts, pairs: Iterable[tuple[str, str]], emitter: Emitter) -> None:
    for prop, platform in sorted(pairs):
        inbound = c.get("ri", {}).get((prop, platform), 0)
        replied = c.get("rr", {}).get((prop, platform), 0)
        response_ms = c.get("rt", {}).get((prop, platform), 0)
        emitter.gauge("pulse_social_inbound_conversations", prop, inbound, platform)
        emitter.gauge("pulse_social_replied_conversations", prop, replied, platform)
        emitter.gauge(
            "pulse_social_response_seconds", prop, mean_response_seconds(response_ms, replied), platform
        )
        emitter.ratio("pulse_social_response_ratio", prop, replied, inbound, platform)


def _share_of_voice(c: Counts, props: Iterable[str], emitter: Emitter) -> None:
    for prop in sorted(props):
        mentions, own = c.get("mn", {}).get((prop,), 0), c.get("mo", {}).get((prop,), 0)
        emitter.gauge("pulse_social_mentions", prop, mentions)
        emitter.gauge("pulse_social_own_mentions", prop, own)
        emitter.ratio("pulse_social_share_of_voice_ratio", prop, own, mentions)


def _growth(
    family: FamilyView,
    followers: Mapping[tuple[str, str], Sequence[str]],
    latest: Mapping[str, tuple[int, float] | None],
    start_ms: int,
    emitter: Emitter,
) -> None:
    """(now − at start) / at start, over the series with a snapshot at or before the window start."""
    for (prop, platform), names in sorted(followers.items()):
        at_start = now = 0.0
        started = False
        for name in names:
            point, current = family.series_at(name, start_ms), latest[name]
            if point is not None and current is not None:  # a start point implies a latest one
                at_start, now, started = at_start + point[1], now + current[1], True
        if not started:
            continue  # no snapshot that old: the start is unknown, not 0
        emitter.gauge("pulse_social_followers_at_window_start", prop, at_start, platform)
        emitter.ratio("pulse_social_follower_growth_ratio", prop, now - at_start, at_start, platform)
