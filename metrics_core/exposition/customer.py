"""Customer gauges: active customers now, churn and retention, orders, tickets and event attendance.

Every window derives the customers active at its start from the present and its transitions:
active at start = active now − activations in window + churns in window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from statistics import median

from metrics_core.exposition import emit
from metrics_core.exposition.emit import Emitter, Spec
from metrics_core.exposition.metricset import MetricSet
from metrics_core.exposition.views import FamilyView, WindowView
from metrics_core.families.changes import SEP, field_name
from metrics_core.families.ledger import MICROS, REASONS
from metrics_core.formulas import ratio
from metrics_core.labels import OTHER, kept_values

Counts = dict[tuple[str, ...], int]  # (property, *labels) -> value, for one counter code

NOW_SPECS: Mapping[str, Spec] = {
    "pulse_active_customers": Spec(
        "Customers whose latest subscription event is a start or reactivation.", ("plan",)
    ),
}

SPECS: Mapping[str, Spec] = {
    "pulse_churned_customers": Spec(
        "Churns in the window: transitions from active to cancelled, at the cancellation's time "
        "(a second cancellation changes nothing).",
        ("reason",),
    ),
    "pulse_customer_activations": Spec(
        "Activations in the window: transitions from inactive (or unknown) to active, first or again."
    ),
    "pulse_new_customers": Spec("Of the activations in the window, the customers' first ever."),
    "pulse_customers_at_window_start": Spec(
        "Customers active at the window start: active now − activations in window + churns in window."
    ),
    # Treated as proportions of the start cohort for the interval (Wilson, clamped to 0..1):
    # a customer new in the window who churns is not in that cohort, so this is approximate.
    "pulse_churn_ratio": Spec(
        "Churns in the window / customers active at the window start.", kind="proportion"
    ),
    "pulse_retention_ratio": Spec(
        "(Active now − activations in the window) / customers active at the window start.", kind="proportion"
    ),
    "pulse_revenue": Spec("Revenue of the orders placed in the window, in currency units.", ("currency",)),
    "pulse_orders": Spec("Orders placed in the window (each order_id once).", ("currency",)),
    "pulse_average_order_value": Spec("Revenue / orders, per currency.", ("currency",), "ratio"),
    "pulse_customer_lifetime_value": Spec(
        "(Revenue / active customers now) / churn ratio, same window; absent when either is 0.", ("currency",)
    ),
    "pulse_buyers": Spec("Distinct customers ordering in the window (HyperLogLog)."),
    "pulse_repeat_buyers": Spec("Of those, customers with at least 2 lifetime orders (HyperLogLog)."),
    "pulse_repeat_purchase_ratio": Spec("Repeat buyers / buyers.", kind="proportion"),
    "pulse_tickets_resolved": Spec(
        "Tickets whose first resolution falls in the window (and follows the opening)."
    ),
    "pulse_ticket_resolution_seconds": Spec("Mean resolved − opened of the tickets resolved in the window."),
    "pulse_ticket_resolution_median_seconds": Spec(
        "Exact median resolved − opened of the tickets resolved in the window."
    ),
    "pulse_event_registrants": Spec("Registrations to the event whose time falls in the window.", ("event",)),
    "pulse_event_attendees": Spec("Of those registrants, the ones who attended.", ("event",)),
    "pulse_event_attendance_ratio": Spec("Attendees / registrants.", ("event",), "proportion"),
    "pulse_event_interactions": Spec("Interactions with the event in the window.", ("event",)),
}

# label -> the counter codes whose third part carries it (capped again over every shard)
LABELLED: Mapping[str, tuple[str, ...]] = {"currency": ("ord", "rev"), "event": ("reg", "att", "int")}
# label -> the codes whose counts rank its values for that cap (orders, not revenue: currencies differ)
WEIGHTS: Mapping[str, tuple[str, ...]] = {"currency": ("ord",), "event": ("reg", "int")}


def declare(out: MetricSet) -> None:
    emit.declare(out, SPECS)
    emit.declare(out, NOW_SPECS, windowed=False)


def customers_at_start(active_now: int, activations: int, churns: int) -> int:
    """Customers active at the window start, never below 0 (a churn dated after now could do that).

    >>> customers_at_start(100, 10, 10), customers_at_start(0, 1, 0)
    (100, 0)
    """
    return max(active_now - activations + churns, 0)


def lifetime_value(revenue: float, active_now: int, churns: int, at_start: int) -> float | None:
    """CLV = (revenue / active customers) / churn ratio; None when either is 0 (no finite value).

    >>> lifetime_value(5000.0, 100, 20, 100)  # (5000 / 100) / (20 / 100) = 50 / 0.2
    250.0
    >>> lifetime_value(5000.0, 100, 0, 100) is None
    True
    """
    per_customer = ratio(revenue, active_now)
    churn = ratio(churns, at_start)
    if per_customer is None or not churn:
        return None
    return per_customer / churn


def median_or_none(values: Sequence[float]) -> float | None:
    """The exact median (an even count takes the mean of the two middle values); None when empty.

    >>> median_or_none([30.0, 10.0, 20.0]), median_or_none([40.0, 10.0, 20.0, 30.0]), median_or_none([])
    (20.0, 25.0, None)
    """
    return float(median(values)) if values else None


def _parse(counters: Mapping[str, int]) -> defaultdict[str, Counts]:
    """`{'rev\\x1fshop\\x1fEUR': 5}` -> `{'rev': {('shop', 'EUR'): 5}}`; zeros are dropped, as Redis does."""
    parsed: defaultdict[str, Counts] = defaultdict(dict)
    for name, value in counters.items():
        if not value:
            continue
        code, *rest = name.split(SEP)
        parsed[code][tuple(rest)] = value
    return parsed


def _kept(groups: Iterable[Counts], cap: int) -> frozenset[str]:
    weights: defaultdict[str, float] = defaultdict(float)
    for group in groups:
        for (_, label), value in group.items():
            weights[label] += value
    return kept_values(weights, cap)


def _fold(group: Counts, kept: frozenset[str]) -> Counts:
    out: defaultdict[tuple[str, ...], int] = defaultdict(int)
    for (prop, label), value in group.items():
        out[(prop, label if label in kept else OTHER)] += value
    return dict(out)


def _fold_labels(
    parsed: Mapping[str, Counts], kept: Mapping[str, frozenset[str]]
) -> defaultdict[str, Counts]:
    folded: defaultdict[str, Counts] = defaultdict(dict, parsed)
    for label, codes in LABELLED.items():
        for code in codes:
            folded[code] = _fold(parsed.get(code, {}), kept[label])
    return folded


def collect(family: FamilyView, windows: Sequence[WindowView], out: MetricSet, cap: int) -> None:
    """Active customers now, then every window gauge; a property or label seen in any window gets
    zero counts in every window."""
    totals = _parse(family.totals)
    parsed = [_parse(view.counters) for view in windows]
    props = {key[0] for counts in (totals, *parsed) for group in counts.values() for key in group}
    plans = _fold(totals["act_now"], _kept([totals["act_now"]], cap))
    now = Emitter(out, NOW_SPECS, None)
    for (prop, plan), n in sorted(plans.items()):
        now.gauge("pulse_active_customers", prop, n, plan)
    active: defaultdict[str, int] = defaultdict(int)
    for (prop, _), n in plans.items():
        active[prop] += n
    kept = {
        label: _kept((p.get(code, {}) for p in parsed for code in codes), cap)
        for label, codes in WEIGHTS.items()
    }
    folded = [_fold_labels(p, kept) for p in parsed]
    labels = {
        label: {k for f in folded for code in codes for k in f[code]} for label, codes in LABELLED.items()
    }
    for view, c in zip(windows, folded, strict=True):
        emitter = Emitter(out, SPECS, view.label)
        churn = {prop: _ledger(c, prop, active[prop], emitter) for prop in sorted(props)}
        _orders(c, sorted(labels["currency"]), active, churn, emitter)
        _repeat(view, props, emitter)
        _tickets(view, c, props, emitter)
        _events(c, sorted(labels["event"]), emitter)


def _ledger(c: Mapping[str, Counts], prop: str, active_now: int, emit: Emitter) -> tuple[int, int]:
    """Churn and retention gauges of one property; returns (churns, active at the window start)."""
    activations, new = c["act"].get((prop,), 0), c["new"].get((prop,), 0)
    churns = {reason: c["churn"].get((prop, reason), 0) for reason in REASONS}
    churned = sum(churns.values())
    at_start = customers_at_start(active_now, activations, churned)
    for reason, n in churns.items():
        emit.gauge("pulse_churned_customers", prop, n, reason)
    emit.gauge("pulse_customer_activations", prop, activations)
    emit.gauge("pulse_new_customers", prop, new)
    emit.gauge("pulse_customers_at_window_start", prop, at_start)
    emit.ratio("pulse_churn_ratio", prop, churned, at_start)
    emit.ratio("pulse_retention_ratio", prop, active_now - activations, at_start)
    return churned, at_start


def _orders(
    c: Mapping[str, Counts],
    currencies: Iterable[tuple[str, ...]],
    active: Mapping[str, int],
    churn: Mapping[str, tuple[int, int]],
    emit: Emitter,
) -> None:
    for prop, currency in currencies:
        revenue = c["rev"].get((prop, currency), 0) / MICROS
        orders = c["ord"].get((prop, currency), 0)
        emit.gauge("pulse_revenue", prop, revenue, currency)
        emit.gauge("pulse_orders", prop, orders, currency)
        emit.ratio("pulse_average_order_value", prop, revenue, orders, currency)
        clv = lifetime_value(revenue, active[prop], *churn[prop])
        emit.gauge("pulse_customer_lifetime_value", prop, clv, currency)


def _repeat(view: WindowView, props: Iterable[str], emit: Emitter) -> None:
    groups = {field_name(code, p): [field_name(code, p)] for p in props for code in ("buyers", "repeat")}
    counts = view.uniques(groups)
    for prop in sorted(props):
        buyers, repeat = counts[field_name("buyers", prop)], counts[field_name("repeat", prop)]
        emit.gauge("pulse_buyers", prop, buyers)
        emit.gauge("pulse_repeat_buyers", prop, repeat)
        emit.ratio("pulse_repeat_purchase_ratio", prop, repeat, buyers)


def _tickets(view: WindowView, c: Mapping[str, Counts], props: Iterable[str], emit: Emitter) -> None:
    samples = view.samples([field_name("res", p) for p in props])
    for prop in sorted(props):
        resolved, total_ms = c["tr"].get((prop,), 0), c["trs"].get((prop,), 0)
        emit.gauge("pulse_tickets_resolved", prop, resolved)
        emit.gauge("pulse_ticket_resolution_seconds", prop, ratio(total_ms / 1000, resolved))
        emit.gauge(
            "pulse_ticket_resolution_median_seconds", prop, median_or_none(samples[field_name("res", prop)])
        )


def _events(c: Mapping[str, Counts], events: Iterable[tuple[str, ...]], emit: Emitter) -> None:
    for prop, event in events:
        registrants, attendees = c["reg"].get((prop, event), 0), c["att"].get((prop, event), 0)
        emit.gauge("pulse_event_registrants", prop, registrants, event)
        emit.gauge("pulse_event_attendees", prop, attendees, event)
        emit.ratio("pulse_event_attendance_ratio", prop, attendees, registrants, event)
        emit.gauge("pulse_event_interactions", prop, c["int"].get((prop, event), 0), event)
