"""Survey gauges per window: NPS with its margin of error, CSAT (top-2-box) with Wilson, CES."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from metrics_core.exposition import emit
from metrics_core.exposition.emit import Emitter, Spec
from metrics_core.exposition.metricset import MetricSet
from metrics_core.exposition.views import FamilyView, WindowView
from metrics_core.families.changes import SEP
from metrics_core.formulas import nps, nps_margin, ratio
from metrics_core.labels import OTHER, kept_values

_S = ("survey",)
_WHEN = " Responses are counted at their first submission; an update revises them in place."
# name: what it is, its extra labels, its kind (see emit.Spec)
SPECS: Mapping[str, Spec] = {
    "pulse_nps_score": Spec(
        "Net Promoter Score, -100..100: % promoters (9-10) - % detractors (0-6)." + _WHEN, _S
    ),
    "pulse_nps_score_sample_size": Spec("NPS responses behind pulse_nps_score (exported even when 0).", _S),
    "pulse_nps_score_lower": Spec(
        "pulse_nps_score minus the standard NPS margin of error (95 %), at least -100.", _S
    ),
    "pulse_nps_score_upper": Spec(
        "pulse_nps_score plus the standard NPS margin of error (95 %), at most 100.", _S
    ),
    "pulse_nps_responses": Spec(
        "NPS responses by category: promoter (9-10), passive (7-8), detractor (0-6).", (*_S, "category")
    ),
    "pulse_csat_ratio": Spec(
        "CSAT: top-2-box responses (4-5 of 5, 6-7 of 7, 9-10 of 10) / responses." + _WHEN, _S, "proportion"
    ),
    "pulse_csat_responses": Spec("CSAT responses.", _S),
    "pulse_csat_positive_responses": Spec("CSAT responses in the top two boxes of their declared scale.", _S),
    "pulse_ces_score": Spec("Customer Effort Score: mean answer, 1..7." + _WHEN, _S),
    "pulse_ces_responses": Spec("CES responses.", _S),
}

CATEGORIES = ("promoter", "passive", "detractor")
# Which measures make a (property, survey) pair show each metric group in every window.
GROUPS: Mapping[str, tuple[str, ...]] = {"nps": CATEGORIES, "csat": ("cr",), "ces": ("er",)}

Key = tuple[str, str]  # (property, survey)
Tally = Mapping[str, int]  # measure ("promoter", "passive", "detractor", "cr", "cp", "er", "es") -> n


def declare(out: MetricSet) -> None:
    emit.declare(out, SPECS)


def tallies(counters: Mapping[str, int]) -> dict[Key, dict[str, int]]:
    """Counters by (property, survey); zero counters are ignored (Redis deletes them).

    >>> tallies({"np\\x1fshop\\x1fdefault\\x1fpromoter": 3, "cr\\x1fshop\\x1fq3": 2, "er\\x1fshop\\x1fq3": 0})
    {('shop', 'default'): {'promoter': 3}, ('shop', 'q3'): {'cr': 2}}
    """
    out: defaultdict[Key, dict[str, int]] = defaultdict(dict)
    for name, value in counters.items():
        if value:
            code, prop, survey, *category = name.split(SEP)
            measure = category[0] if category else code
            out[(prop, survey)][measure] = out[(prop, survey)].get(measure, 0) + value
    return dict(out)


def folded(tally: Mapping[Key, Tally], kept: frozenset[str]) -> dict[Key, dict[str, int]]:
    """Surveys outside `kept` summed into `__other__` (the exporter-side cardinality cap)."""
    out: defaultdict[Key, dict[str, int]] = defaultdict(dict)
    for (prop, survey), measures in tally.items():
        into = out[(prop, survey if survey in kept else OTHER)]
        for measure, n in measures.items():
            into[measure] = into.get(measure, 0) + n
    return dict(out)


def _responses(measures: Tally) -> int:
    return sum(measures.get(m, 0) for m in (*CATEGORIES, "cr", "er"))


def _kept_surveys(windows: Iterable[Mapping[Key, Tally]], cap: int) -> frozenset[str]:
    weights: defaultdict[str, float] = defaultdict(float)
    for tally in windows:
        for (_, survey), measures in tally.items():
            weights[survey] += _responses(measures)
    return kept_values(weights, cap)


def nps_interval(promoters: int, passives: int, detractors: int) -> tuple[float, float] | None:
    """NPS ± the standard margin of error (95 %), clamped to −100..100; None without responses.

    >>> lo, hi = nps_interval(70, 24, 6)  # 64 ± 11.60
    >>> round(lo, 2), round(hi, 2)
    (52.4, 75.6)
    >>> nps_interval(3, 0, 0)  # unanimous: no spread, margin 0
    (100.0, 100.0)
    """
    score = nps(promoters, passives, detractors)
    margin = nps_margin(promoters, passives, detractors)
    if score is None or margin is None:
        return None
    return max(-100.0, score - margin), min(100.0, score + margin)


def collect(family: FamilyView, windows: Sequence[WindowView], out: MetricSet, cap: int) -> None:
    """Every survey gauge of every window; a (property, survey) pair with answers of a type in
    any window gets that type's counts (0) in every window, and no score where it has none."""
    raw = [tallies(view.counters) for view in windows]
    kept = _kept_surveys(raw, cap)
    shown = [folded(tally, kept) for tally in raw]
    known = {
        group: sorted({key for tally in shown for key, m in tally.items() if any(m.get(x) for x in measures)})
        for group, measures in GROUPS.items()
    }
    for view, tally in zip(windows, shown, strict=True):
        out_window = Emitter(out, SPECS, view.label)
        for prop, survey in known["nps"]:
            _nps_gauges(out_window, prop, survey, tally.get((prop, survey), {}))
        for prop, survey in known["csat"]:
            _csat_gauges(out_window, prop, survey, tally.get((prop, survey), {}))
        for prop, survey in known["ces"]:
            _ces_gauges(out_window, prop, survey, tally.get((prop, survey), {}))


def _nps_gauges(out: Emitter, prop: str, survey: str, m: Tally) -> None:
    p, n, d = (m.get(c, 0) for c in CATEGORIES)
    for category, count in zip(CATEGORIES, (p, n, d), strict=True):
        out.gauge("pulse_nps_responses", prop, count, survey, category)
    out.gauge("pulse_nps_score_sample_size", prop, p + n + d, survey)
    out.gauge("pulse_nps_score", prop, nps(p, n, d), survey)
    interval = nps_interval(p, n, d)
    if interval is not None:
        out.gauge("pulse_nps_score_lower", prop, interval[0], survey)
        out.gauge("pulse_nps_score_upper", prop, interval[1], survey)


def _csat_gauges(out: Emitter, prop: str, survey: str, m: Tally) -> None:
    responses, positive = m.get("cr", 0), m.get("cp", 0)
    out.gauge("pulse_csat_responses", prop, responses, survey)
    out.gauge("pulse_csat_positive_responses", prop, positive, survey)
    out.ratio("pulse_csat_ratio", prop, positive, responses, survey)


def _ces_gauges(out: Emitter, prop: str, survey: str, m: Tally) -> None:
    responses = m.get("er", 0)
    out.gauge("pulse_ces_responses", prop, responses, survey)
    out.gauge("pulse_ces_score", prop, ratio(m.get("es", 0), responses), survey)
