"""One screen of `pulse top`: the key gauges of a window and property, family by family.

A pure function of two reads of the exporter; names and labels are the exporter's own
(metrics_core/exposition/*.py, docs/metrics.md). A gauge the exporter does not serve (a
ratio over zero, say) shows as "—".
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from streams.top.fmt import (
    MISSING,
    count,
    decimal,
    duration,
    percent,
    percent_between,
    score_margin,
)
from streams.top.reading import Reading, busiest_property, rate

Cell = tuple[str, str]  # (label, formatted value)

INDENT, CELL, GUTTER = 2, 37, 3  # two cells side by side in 80 columns
MOST_LABELLED = 3  # surveys, platforms, currencies shown per section; the rest are counted


@dataclass(frozen=True)
class View:
    """What a section reads: this read, the one before, and the chosen window and property."""

    current: Reading
    previous: Reading | None
    window: str
    prop: str

    def gauge(self, name: str, **labels: str) -> float | None:
        return self.current.value(name, window=self.window, property=self.prop, **labels)

    def ratio(self, name: str) -> tuple[float | None, float | None, float | None]:
        """A ratio with its Wilson interval: (value, lower, upper)."""
        return self.gauge(name), self.gauge(name + "_lower"), self.gauge(name + "_upper")

    def by_label(self, name: str, label: str) -> dict[str, float]:
        """The samples of `name` in the window and property, by the value of `label`."""
        found = self.current.matching(name, window=self.window, property=self.prop)
        return {labels[label]: value for labels, value in found if label in labels}

    def total(self, name: str) -> float | None:
        return self.current.total(name, window=self.window, property=self.prop)


def largest(sizes: Mapping[str, float], limit: int = MOST_LABELLED) -> tuple[list[str], int]:
    """The `limit` label values with the largest sample sizes (ties by name), and how many are left.

    >>> largest({"q3": 5, "nps": 40, "exit": 5, "onboarding": 1}, 2)
    (['nps', 'exit'], 2)
    """
    ranked = sorted(sizes, key=lambda value: (-sizes[value], value))
    return ranked[:limit], max(len(ranked) - limit, 0)


def _more(hidden: int, one: str, many: str) -> list[Cell]:
    return [(f"… {hidden} more {one if hidden == 1 else many}", "")] if hidden else []


def web(view: View) -> list[Cell]:
    return [
        ("page views", count(view.gauge("pulse_page_views"))),
        ("unique visitors", count(view.gauge("pulse_unique_visitors"))),
        ("sessions", count(view.gauge("pulse_sessions"))),
        ("bounce ratio", percent_between(*view.ratio("pulse_bounce_ratio"))),
        ("session duration", duration(view.gauge("pulse_session_duration_seconds"))),
    ]


EMAIL: tuple[tuple[str, str, Callable[[float | None], str]], ...] = (
    ("sent", "pulse_email_sent", count),
    ("delivered", "pulse_email_delivered", count),
    ("delivery ratio", "pulse_email_delivery_ratio", percent),
    ("open ratio", "pulse_email_open_ratio", percent),
    ("human open ratio", "pulse_email_human_open_ratio", percent),
    ("click-through ratio", "pulse_email_click_through_ratio", percent),
    ("bounce ratio", "pulse_email_bounce_ratio", percent),
    ("spam complaint ratio", "pulse_email_spam_complaint_ratio", percent),
)


def email(view: View) -> list[Cell]:
    return [(label, show(view.gauge(name))) for label, name, show in EMAIL]


def _largest_by(
    view: View, title: str, metric: str, label: str, plural: str, show: Callable[[float | None], str]
) -> list[Cell]:
    """ "<title> <value>" cells of `metric` per value of `label`, largest sample sizes first; [] for none."""
    values = view.by_label(metric, label)
    shown, hidden = largest(view.by_label(f"{metric}_sample_size", label))
    cells = [(f"{title} {value}", show(values.get(value))) for value in shown]
    return cells + _more(hidden, label, plural) if shown else []


def social(view: View) -> list[Cell]:
    """Interactions summed over platforms and kinds; engagement per platform (most impressions first)."""
    cells = [
        ("interactions", count(view.total("pulse_social_interactions"))),
        ("share of voice", percent(view.gauge("pulse_social_share_of_voice_ratio"))),
    ]
    metric = "pulse_social_engagement_ratio"
    engagement = _largest_by(view, "engagement", metric, "platform", "platforms", percent)
    return cells + (engagement or [("engagement ratio", MISSING)])


def survey(view: View) -> list[Cell]:
    """NPS ± margin, CSAT and CES of the surveys with the most responses ("default" unnamed)."""
    measures = {  # metric group -> the gauge that says a survey has it, even with 0 responses now
        "nps": view.by_label("pulse_nps_score_sample_size", "survey"),
        "csat": view.by_label("pulse_csat_ratio_sample_size", "survey"),
        "ces": view.by_label("pulse_ces_responses", "survey"),
    }
    sizes: defaultdict[str, float] = defaultdict(float)
    for found in measures.values():
        for name, n in found.items():
            sizes[name] += n
    surveys, hidden = largest(sizes)
    if not surveys:
        return [("NPS", MISSING), ("CSAT", MISSING), ("CES", MISSING)]
    cells = []
    for name in surveys:
        suffix = "" if name == "default" else f" {name}"
        if name in measures["nps"]:
            nps = [view.gauge(f"pulse_nps_score{part}", survey=name) for part in ("", "_lower", "_upper")]
            cells.append((f"NPS{suffix}", score_margin(*nps)))
        if name in measures["csat"]:
            cells.append((f"CSAT{suffix}", percent(view.gauge("pulse_csat_ratio", survey=name))))
        if name in measures["ces"]:
            cells.append((f"CES{suffix}", decimal(view.gauge("pulse_ces_score", survey=name))))
    return cells + _more(hidden, "survey", "surveys")


def customers(view: View) -> list[Cell]:
    """Active customers now (every plan), churn and retention, AOV per currency (most orders first)."""
    active = view.current.total("pulse_active_customers", property=view.prop)
    cells = [
        ("active customers", count(active)),
        ("churn ratio", percent(view.gauge("pulse_churn_ratio"))),
        ("retention ratio", percent(view.gauge("pulse_retention_ratio"))),
    ]
    aov = _largest_by(view, "AOV", "pulse_average_order_value", "currency", "currencies", decimal)
    return cells + (aov or [("AOV", MISSING)])


def pipeline(view: View) -> list[Cell]:
    """Over every topic: accepted per second between this read and the last, totals, lag, freshness."""
    now = view.current
    newest = [value for _, value in now.matching("pulse_last_event_timestamp_seconds")]
    age_s = max(now.taken_s - max(newest), 0.0) if newest else None
    up = now.value("pulse_up")
    return [
        ("accepted/s", decimal(rate(now, view.previous, "pulse_events_total"), 1)),
        ("accepted", count(now.total("pulse_events_total"))),
        ("rejected", count(now.total("pulse_events_rejected_total"))),
        ("duplicates", count(now.total("pulse_events_duplicate_total"))),
        ("late", count(now.total("pulse_events_late_total"))),
        ("consumer lag", count(now.total("pulse_consumer_lag"))),
        ("newest event age", duration(age_s)),
        ("store (pulse_up)", MISSING if up is None else "up" if up == 1 else "DOWN"),
    ]


SECTIONS: tuple[tuple[str, Callable[[View], list[Cell]]], ...] = (
    ("Web", web),
    ("E-mail", email),
    ("Social", social),
    ("Survey", survey),
    ("Customers", customers),
    ("Pipeline", pipeline),
)


def cell_text(label: str, value: str) -> str:
    """The label on the left, the value on the right of a cell.

    >>> cell_text("page views", "1 234")
    'page views                      1 234'
    """
    return f"{label} {value.rjust(CELL - len(label) - 1)}" if value else label


def grid(cells: Iterable[Cell], width: int) -> list[str]:
    """Cells in as many columns as fit in `width`, filled row by row."""
    texts = [cell_text(label, value) for label, value in cells]
    columns = max(1, (width - INDENT + GUTTER) // (CELL + GUTTER))
    rows = [texts[i : i + columns] for i in range(0, len(texts), columns)]
    return [(" " * INDENT + (" " * GUTTER).join(t.ljust(CELL) for t in row)).rstrip() for row in rows]


def fit(line: str, width: int) -> str:
    """Cut a line to `width`, marking the cut with "…"."""
    return line if len(line) <= width else line[: width - 1] + "…"


def notes(view: View) -> list[str]:
    """Why the screen may be empty: the store is down, or nothing is served for this choice."""
    now = view.current
    if now.value("pulse_up") == 0:
        return ["! the exporter cannot read Redis (pulse_up 0): values return when it can"]
    chosen = {("window", view.window), ("property", view.prop)}
    if any(chosen <= labels for _, labels in now.samples):
        return []
    windows = ", ".join(now.label_values("window")) or "none"
    props = ", ".join(now.label_values("property")) or "none"
    return [
        f"! nothing served for window {view.window} and property {view.prop}",
        f"  served: windows {windows}; properties {props}",
    ]


def render(current: Reading, previous: Reading | None, window: str, prop: str | None, width: int) -> str:
    """The whole screen, no wider than `width`; `previous` (the read before) gives rates.
    `prop` None: `default` when served, else the busiest property (`busiest_property`).

    >>> print(render(Reading({}, 0.0), None, "5m", "default", 80).splitlines()[0])
    pulse top · window 5m · property default · 00:00:00 UTC
    """
    prop = prop or busiest_property(current) or "default"
    view = View(current, previous, window, prop)
    clock = time.strftime("%H:%M:%S", time.gmtime(current.taken_s))
    lines = [f"pulse top · window {window} · property {prop} · {clock} UTC"]
    for title, section in SECTIONS:
        lines.append(title)
        lines.extend(grid(section(view), width))
    lines.extend(notes(view))
    return "\n".join(fit(line, max(width, 20)) for line in lines)
