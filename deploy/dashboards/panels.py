"""What the dashboards share: the window and property variables, and ratio and count panels."""

from __future__ import annotations

from typing import Any

from deploy.grafana_kit import Q, series, stat, variable

WINDOW = variable("window", "label_values(window)", "Window", current="24h")


SEL = 'window="$window",property="$property"'


RATE = "$__rate_interval"


def property_variable(metric: str) -> dict[str, Any]:
    return variable("property", f'label_values({metric}{{window="$window"}}, property)', "Property")


def evidence(title: str, metric: str, extra: str = "", n: str = "n", unit: str = "percentunit") -> Any:
    """A ratio as a stat: its value, its 95 % interval and the sample size behind it."""
    sel = f"{{{SEL}{extra}}}"
    queries = [
        Q(f"{metric}{sel}", title),
        Q(f"{metric}_lower{sel}", "low"),
        Q(f"{metric}_upper{sel}", "high"),
    ]
    queries.append(Q(f"{metric}_sample_size{sel}", n))
    return stat(title, queries, unit, f"{metric} with its 95 % interval and sample size ({n}).")


def band(title: str, metric: str, legend: str = "", extra: str = "", unit: str = "percentunit") -> Any:
    """A ratio over time with its 95 % interval as a dashed band."""
    sel = f"{{{SEL}{extra}}}"
    lead = f"{legend} " if legend else ""
    queries = [
        Q(f"{metric}{sel}", legend or title),
        Q(f"{metric}_lower{sel}", f"{lead}low"),
        Q(f"{metric}_upper{sel}", f"{lead}high"),
    ]
    return series(title, queries, unit, f"{metric} and its 95 % interval (dashed).", minimum=0)


def count(title: str, expr: str, legend: str = "", description: str = "", w: int = 12) -> Any:
    return series(title, [Q(expr, legend)], "short", description or expr, w=w, minimum=0)
