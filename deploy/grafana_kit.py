"""A small, dependency-free builder of Grafana dashboard JSON (schema 39, Grafana ≥ 10).

Panels are plain dicts; `Grid` lays them out left to right, 24 columns wide, and numbers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 39
Panel = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Q:
    """One PromQL query of a panel: its legend, and whether it is read at one instant (tables, stats)."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False

    def target(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "refId": ref,
            "datasource": DATASOURCE,
            "expr": self.expr,
            "range": not self.instant,
        }
        out["instant"] = self.instant
        if self.legend:
            out["legendFormat"] = self.legend
        if self.table:
            out["format"] = "table"
        return out


def _targets(queries: list[Q]) -> list[dict[str, Any]]:
    return [q.target(chr(ord("A") + i)) for i, q in enumerate(queries)]


def _panel(kind: str, title: str, queries: list[Q], description: str, w: int, h: int) -> Panel:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets(queries),
        "gridPos": {"w": w, "h": h},
    }


def stat(title: str, queries: list[Q], unit: str, description: str, w: int = 6, h: int = 5) -> Panel:
    """Big numbers with a sparkline of their history; several queries show side by side."""
    panel = _panel("stat", title, queries, description, w, h)
    defaults: dict[str, Any] = {"unit": unit, "color": {"mode": "fixed", "fixedColor": "text"}}
    if unit == "percentunit":
        defaults["decimals"] = 2
    panel["fieldConfig"] = {
        "defaults": defaults,
        "overrides": [_override("n", {"unit": "short", "decimals": 0})],
    }
    panel["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "graphMode": "area",
        "textMode": "value_and_name" if len(queries) > 1 else "value",
        "colorMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
    }
    return panel


def series(
    title: str,
    queries: list[Q],
    unit: str,
    description: str,
    w: int = 12,
    h: int = 8,
    stacked: bool = False,
    minimum: float | None = None,
) -> Panel:
    """Lines over time; series whose legend ends in "low"/"high" are drawn as a dashed 95 % band."""
    panel = _panel("timeseries", title, queries, description, w, h)
    custom: dict[str, Any] = {"lineWidth": 2, "fillOpacity": 10 if stacked else 0, "showPoints": "never"}
    if stacked:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    defaults: dict[str, Any] = {"unit": unit, "custom": custom}
    if minimum is not None:
        defaults["min"] = minimum
    band = {"lineWidth": 1, "lineStyle": {"fill": "dash", "dash": [4, 4]}, "fillOpacity": 0}
    panel["fieldConfig"] = {
        "defaults": defaults,
        "overrides": [
            {
                "matcher": {"id": "byRegexp", "options": "/(low|high)$/"},
                "properties": [{"id": f"custom.{k}", "value": v} for k, v in band.items()],
            }
        ],
    }
    panel["options"] = {
        "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel


def table(
    title: str, queries: list[Q], description: str, w: int = 12, h: int = 8, unit: str = "short"
) -> Panel:
    """Instant values as rows, one column per query (merged on their labels)."""
    queries = [Q(q.expr, q.legend, instant=True, table=True) for q in queries]
    panel = _panel("table", title, queries, description, w, h)
    panel["fieldConfig"] = {"defaults": {"unit": unit}, "overrides": []}
    panel["options"] = {"showHeader": True, "sortBy": [{"displayName": "Value #A", "desc": True}]}
    panel["transformations"] = [
        {"id": "merge", "options": {}},
        {"id": "organize", "options": {"excludeByName": {"Time": True, "__name__": True, "job": True}}},
    ]
    return panel


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {"w": 24, "h": 1}}


def _override(name: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": k, "value": v} for k, v in props.items()],
    }


@dataclass
class Grid:
    """Places panels in reading order on Grafana's 24-column grid and gives them ids."""

    panels: list[Panel] = field(default_factory=list)
    _x: int = 0
    _y: int = 0
    _row_h: int = 0

    def add(self, *panels: Panel) -> Grid:
        for panel in panels:
            w, h = panel["gridPos"]["w"], panel["gridPos"]["h"]
            if panel["type"] == "row" or self._x + w > 24:
                self._y, self._x, self._row_h = self._y + self._row_h, 0, 0
            panel["gridPos"] = {"x": self._x, "y": self._y, "w": w, "h": h}
            panel["id"] = len(self.panels) + 1
            self.panels.append(panel)
            self._x, self._row_h = self._x + w, max(self._row_h, h)
            if panel["type"] == "row":
                self._y, self._x, self._row_h = self._y + h, 0, 0
        return self


def variable(name: str, query: str, label: str, current: str | None = None) -> dict[str, Any]:
    """A single-valued query variable, refreshed when the time range changes."""
    out: dict[str, Any] = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-variable"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": False,
        "includeAll": False,
    }
    if current is not None:
        out["current"] = {"selected": True, "text": current, "value": current}
    return out


DATASOURCE_VARIABLE = {
    "type": "datasource",
    "name": "datasource",
    "label": "Prometheus",
    "query": "prometheus",
    "current": {"selected": True, "text": "Prometheus", "value": "pulse-prometheus"},
}


def dashboard(
    uid: str, title: str, description: str, grid: Grid, variables: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["pulse"],
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-6h", "to": "now"},
        "timezone": "browser",
        "templating": {"list": [DATASOURCE_VARIABLE, *variables]},
        "annotations": {"list": []},
        "links": [
            {"type": "dashboards", "tags": ["pulse"], "asDropdown": True, "title": "Pulse", "keepTime": True}
        ],
        "panels": grid.panels,
        "version": 1,
    }
