"""Email gauges per window: message counts and their ratios, overall and per campaign.

Every count is of messages anchored (by their send, else delivery, time) in the window, so a
ratio's numerator and denominator are the same messages: `opened / delivered` is "of the
messages sent in the window, the share opened so far".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from metrics_core.exposition import emit
from metrics_core.exposition.emit import Emitter, Spec
from metrics_core.exposition.metricset import MetricSet
from metrics_core.exposition.views import FamilyView, WindowView
from metrics_core.families.changes import SEP
from metrics_core.families.email import BOUNCE_TYPES
from metrics_core.labels import OTHER, kept_values

OVERALL, CAMPAIGN = "pulse_email_", "pulse_email_campaign_"
BY_BOUNCE_TYPE = "pulse_email_bounced_by_type"

# counter code -> metric suffix, help (see metrics_core/families/email.py for the codes)
COUNTS: Mapping[str, tuple[str, str]] = {
    "sn": ("sent", "Messages sent (with a `sent` event, or delivered), at their send time."),
    "dl": ("delivered", "Of those, messages delivered (or opened, clicked, unsubscribed, ...)."),
    "bo": ("bounced", "Of those, messages with a bounce."),
    "dr": ("dropped", "Of those, messages dropped by the sender."),
    "op": ("opened", "Of those, messages with at least one open (machine opens included) or human click."),
    "ho": ("human_opened", "Of those, messages with a non-machine open or a human click."),
    "ck": ("clicked", "Of those, messages with at least one non-bot click."),
    "un": ("unsubscribed", "Of those, messages that led to an unsubscribe."),
    "sp": ("spam_complaints", "Of those, messages reported as spam."),
    "cv": ("conversions", "Of those, messages that led to a conversion."),
}

# metric suffix -> numerator code, denominator code, help
RATIOS: Mapping[str, tuple[str, str, str]] = {
    "delivery_ratio": ("dl", "sn", "Delivered / sent messages."),
    "bounce_ratio": ("bo", "sn", "Bounced / sent messages."),
    "open_ratio": ("op", "dl", "Messages with at least one open / delivered messages."),
    "human_open_ratio": ("ho", "dl", "Messages with a human (non-machine) open / delivered messages."),
    "click_through_ratio": ("ck", "dl", "Messages with a non-bot click / delivered messages."),
    "click_to_open_ratio": ("ck", "op", "Clicked messages / opened messages."),
    "unsubscribe_ratio": ("un", "dl", "Unsubscribed messages / delivered messages."),
    "spam_complaint_ratio": ("sp", "dl", "Messages reported as spam / delivered messages."),
    "conversion_ratio": ("cv", "dl", "Converted messages / delivered messages."),
}


def _specs() -> dict[str, Spec]:
    specs: dict[str, Spec] = {}
    for prefix, extra, scope in ((OVERALL, (), ""), (CAMPAIGN, ("campaign",), " Per campaign.")):
        for suffix, help_text in COUNTS.values():
            specs[prefix + suffix] = Spec(help_text + scope, extra)
        for suffix, (_, _, help_text) in RATIOS.items():
            specs[prefix + suffix] = Spec(help_text + scope, extra, "proportion")
    specs[BY_BOUNCE_TYPE] = Spec(
        "Bounced messages by their most severe bounce type (unknown when not given).", ("bounce_type",)
    )
    return specs


SPECS: Mapping[str, Spec] = _specs()

Tally = dict[tuple[str, str], Counter[str]]  # (property, label) -> code -> messages


def tally(counters: Mapping[str, int]) -> tuple[Tally, Tally]:
    """Counters by (property, campaign) and, for `bt`, by (property, bounce type).

    >>> by_campaign, by_type = tally({"sn\\x1fshop\\x1fspring": 3, "bt\\x1fshop\\x1fhard": 1})
    >>> dict(by_campaign[("shop", "spring")]), dict(by_type[("shop", "hard")])
    ({'sn': 3}, {'bt': 1})
    """
    by_campaign: Tally = defaultdict(Counter)
    by_type: Tally = defaultdict(Counter)
    for name, value in counters.items():
        if not value:
            continue  # a retracted count: Redis deletes it, the in-memory store keeps a 0
        code, prop, label = name.split(SEP)
        (by_type if code == "bt" else by_campaign)[(prop, label)][code] += value
    return by_campaign, by_type


def fold_campaigns(by_campaign: Tally, kept: frozenset[str]) -> Tally:
    """Campaigns outside `kept` (the exporter-side cap) summed into `__other__`.

    >>> folded = fold_campaigns({("p", "a"): Counter(sn=2), ("p", "b"): Counter(sn=1)}, frozenset())
    >>> dict(folded[("p", "__other__")])
    {'sn': 3}
    """
    folded: Tally = defaultdict(Counter)
    for (prop, campaign), counts in by_campaign.items():
        folded[(prop, campaign if campaign in kept else OTHER)].update(counts)
    return folded


def per_property(by_campaign: Tally) -> dict[str, Counter[str]]:
    """Overall counts: the sum over campaigns (folding never changes them).

    >>> dict(per_property({("p", "a"): Counter(sn=2), ("p", "b"): Counter(sn=1, dl=1)})["p"])
    {'sn': 3, 'dl': 1}
    """
    totals: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for (prop, _), counts in by_campaign.items():
        totals[prop].update(counts)
    return dict(totals)


def declare(out: MetricSet) -> None:
    emit.declare(out, SPECS)


def collect(family: FamilyView, windows: Sequence[WindowView], out: MetricSet, cap: int) -> None:
    """Every email gauge of every window; a property or campaign seen in any window gets zeros."""
    tallies = [tally(view.counters) for view in windows]
    weights: Counter[str] = Counter()
    for by_campaign, _ in tallies:
        for (_, campaign), counts in by_campaign.items():
            weights[campaign] += counts["sn"]
    kept = kept_values(weights, cap)
    folded = [(fold_campaigns(by_campaign, kept), by_type) for by_campaign, by_type in tallies]
    campaigns = sorted({key for by_campaign, _ in folded for key in by_campaign})
    props = sorted({prop for prop, _ in campaigns} | {p for _, by_type in folded for p, _ in by_type})
    for view, (by_campaign, by_type) in zip(windows, folded, strict=True):
        out_window = Emitter(out, SPECS, view.label)
        overall = per_property(by_campaign)
        for prop in props:
            _emit_family(out_window, OVERALL, prop, overall.get(prop, Counter()))
            for bounce_type in BOUNCE_TYPES:
                n = by_type.get((prop, bounce_type), Counter())["bt"]
                out_window.gauge(BY_BOUNCE_TYPE, prop, n, bounce_type)
        for prop, campaign in campaigns:
            _emit_family(out_window, CAMPAIGN, prop, by_campaign.get((prop, campaign), Counter()), campaign)


def _emit_family(out: Emitter, prefix: str, prop: str, counts: Counter[str], *extra: str) -> None:
    """The counts and ratios of one property (and campaign) in one window."""
    for code, (suffix, _) in COUNTS.items():
        out.gauge(prefix + suffix, prop, counts[code], *extra)
    for suffix, (numerator, denominator, _) in RATIOS.items():
        out.ratio(prefix + suffix, prop, counts[numerator], counts[denominator], *extra)
