"""Grafana dashboards: generated and up to date, laid out, provisioned; every query parses
(promtool) and reads a metric that a real scrape serves or a recording rule makes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import build
from deploy.dashboards import DASHBOARDS
from deploy.grafana_kit import DATASOURCE_VARIABLE
from deploy.rules import DEPLOY
from tests.deploy.promql import metric_names, promtool_parses, substitute

GRAFANA = DEPLOY / "grafana"
# What Grafana puts in place of each variable, for promtool.
SAMPLE_VALUES = {
    "window": "1h",
    "property": "shop",
    "survey": "default",
    "topic": ".*",
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text()) for path in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every variable, variables substituted."""
    out = []
    for name, dashboard in _dashboards().items():
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                out.append((f"{name}/{panel['title']}", substitute(target["expr"], SAMPLE_VALUES)))
        for var in dashboard["templating"]["list"]:
            if var["type"] != "query":
                continue
            match = re.fullmatch(r"label_values\((?:(.*),\s*)?(\w+)\)", var["definition"])
            assert match, f"{name}: variable {var['name']}: {var['definition']}"
            if match.group(1):
                out.append((f"{name}/${var['name']}", substitute(match.group(1), SAMPLE_VALUES)))
    return out


def test_generated_files_are_up_to_date() -> None:
    assert build.stale() == [], "run `python -m deploy.build` and commit the result"


def test_one_dashboard_per_family_and_an_overview() -> None:
    assert set(_dashboards()) == set(DASHBOARDS)
    assert {"overview", "web", "email", "social", "survey", "customer", "pipeline"} <= set(DASHBOARDS)


def test_every_query_parses(promtool: str, tmp_path: Path) -> None:
    queries = _queries()
    assert len(queries) > 100
    assert promtool_parses(promtool, [expr for _, expr in queries], tmp_path) == []


def test_every_query_reads_metrics_that_exist(known_names: frozenset[str]) -> None:
    unknown = {where: sorted(metric_names(expr) - known_names) for where, expr in _queries()}
    assert {where: names for where, names in unknown.items() if names} == {}


def test_every_query_reads_a_metric() -> None:
    for where, expr in _queries():
        assert metric_names(expr), f"{where}: {expr}"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_layout(name: str) -> None:
    dashboard = _dashboards()[name]
    assert dashboard["uid"] == f"pulse-{name}" and dashboard["title"].startswith("Pulse / ")
    panels = list(_panels(dashboard))
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        area = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not area & cells, f"{name}: {panel['title']} overlaps another panel"
        cells |= area
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}" and panel["targets"], panel["title"]
            assert panel.get("description"), f"{name}: {panel['title']} says what it shows"


def test_overview_shows_kpis_with_evidence_and_alerts() -> None:
    overview = _dashboards()["overview"]
    stats = {p["title"]: p for p in _panels(overview) if p["type"] == "stat"}
    for title in ("Churn", "CSAT", "NPS", "Web bounce", "E-mail CTR", "Spam complaints", "E-mail bounces"):
        legends = [t.get("legendFormat") for t in stats[title]["targets"]]
        assert "n" in legends, f"{title}: sample size"
        assert stats[title]["options"]["graphMode"] == "area", f"{title}: sparkline"
        if title != "Churn":  # churn exports no interval (a customer may churn twice in a window)
            assert {"low", "high"} <= set(legends), f"{title}: interval"
    exprs = [t["expr"] for p in _panels(overview) for t in p.get("targets", [])]
    assert any("ALERTS" in expr for expr in exprs)


def test_provisioning_points_at_the_dashboards_and_the_datasource() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (prometheus,) = datasources["datasources"]
    current: dict[str, str] = DATASOURCE_VARIABLE["current"]  # type: ignore[assignment]
    assert prometheus["type"] == "prometheus" and prometheus["uid"] == current["value"]
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "pulse.yml").read_text())
    (provider,) = providers["providers"]
    compose = yaml.safe_load((DEPLOY.parent / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts
