"""Prometheus rules: promtool checks and unit tests, the shape every alert must have, real names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.rules import DEPLOY, alerts, duration_s, fast_config, fast_copy, load_groups, rule_files
from tests.deploy.promql import metric_names

PROMETHEUS = DEPLOY / "prometheus"
TESTS = PROMETHEUS / "tests"
RUNBOOKS = DEPLOY.parent / "docs" / "runbooks"
RUNBOOK_BASE = "https://github.com/pulse-metrics/pulse/blob/main/docs/runbooks/"
BUSINESS_GROUPS = ("pulse-customer", "pulse-email", "pulse-survey", "pulse-web")
SEVERITIES = ("critical", "warning")


def _promtool(promtool: str, *args: str, cwd: Path | None = None) -> None:
    result = subprocess.run([promtool, *args], capture_output=True, timeout=120, cwd=cwd, check=False)
    assert result.returncode == 0, (
        f"promtool {' '.join(args)}:\n{result.stdout.decode()}{result.stderr.decode()}"
    )


def test_promtool_check_rules(promtool: str) -> None:
    _promtool(promtool, "check", "rules", *map(str, rule_files()))


def test_promtool_check_config(promtool: str) -> None:
    _promtool(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))


@pytest.mark.parametrize("rule_file", [p.name for p in rule_files()])
def test_promtool_test_rules(promtool: str, rule_file: str) -> None:
    """Each rule file has its own test file, with firing and non-firing cases, and it passes."""
    test_file = TESTS / rule_file.replace(".yml", "_test.yml")
    assert test_file.exists(), f"{test_file} is missing: every rule group has a promtool test file"
    assert yaml.safe_load(test_file.read_text())["rule_files"] == [f"../rules/{rule_file}"]
    _promtool(promtool, "test", "rules", test_file.name, cwd=TESTS)


def test_one_group_per_rule_file() -> None:
    for path in rule_files():
        assert len(load_groups([path])) == 1, f"{path.name}: one group per file, one test file per group"


def _cases() -> dict[str, dict[str, int]]:
    """alertname -> {"firing": n, "quiet": n}: how many promtool cases expect it to fire, or not."""
    cases: dict[str, dict[str, int]] = {}
    for path in TESTS.glob("*_test.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                kind = "firing" if case.get("exp_alerts") else "quiet"
                counts = cases.setdefault(case["alertname"], {"firing": 0, "quiet": 0})
                counts[kind] += 1
    return cases


@pytest.mark.parametrize(
    "rule", alerts(load_groups()), ids=lambda rule: f"{rule['alert']}-{rule['labels']['severity']}"
)
def test_alert_shape(rule: dict[str, Any]) -> None:
    """severity, summary, description, runbook_url (to a real runbook section) and a `for:`."""
    name = rule["alert"]
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"] and annotations["description"]
    assert duration_s(rule["for"]) >= 60, f"{name}: a `for:` of at least a minute"
    url = annotations["runbook_url"]
    assert url.startswith(RUNBOOK_BASE), url
    page, _, anchor = url.removeprefix(RUNBOOK_BASE).partition("#")
    runbook = RUNBOOKS / page
    assert runbook.exists(), f"{name}: {runbook} is missing"
    headings = {_anchor(line) for line in runbook.read_text().splitlines() if line.startswith("#")}
    assert anchor == name.lower() and anchor in headings, f"{name}: no section `## {name}` in {page}"
    cases = _cases().get(name, {"firing": 0, "quiet": 0})
    assert cases["firing"] and cases["quiet"], f"{name}: promtool tests need a firing and a quiet case"


def _anchor(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@pytest.mark.parametrize("group", BUSINESS_GROUPS)
def test_business_alerts_ask_for_evidence(group: str) -> None:
    """A quiet hour pages nobody: every business alert demands a minimum sample size."""
    (found,) = [g for g in load_groups() if g["name"] == group]
    for rule in found["rules"]:
        assert re.search(r"_sample_size\{[^}]*\}\s*>=\s*\d+", rule["expr"]), rule["alert"]


def test_rules_read_metrics_that_exist(known_names: frozenset[str]) -> None:
    for group in load_groups():
        for rule in group["rules"]:
            missing = metric_names(rule["expr"]) - known_names
            assert not missing, f"{rule.get('alert') or rule.get('record')} reads {sorted(missing)}"


def test_exporter_down_is_caught_both_ways() -> None:
    exprs = {rule["expr"].strip() for rule in alerts(load_groups())}
    assert 'up{job="pulse"} == 0' in exprs
    assert 'absent(up{job="pulse"})' in exprs
    shipped = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert "pulse" in [job["job_name"] for job in shipped["scrape_configs"]]


def test_alertmanager_routes_every_severity() -> None:
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {r["name"] for r in config["receivers"]}
    routes = config["route"].get("routes", [])
    assert config["route"]["receiver"] in receivers
    assert all(route["receiver"] in receivers for route in routes)
    routed = {m for route in routes for m in route.get("matchers", [])}
    for severity in SEVERITIES:
        assert f'severity="{severity}"' in routed, f"no route for severity {severity}"


def test_fast_copy_is_fast_and_leaves_the_shipped_rules_alone() -> None:
    groups = load_groups()
    copy = fast_copy(groups, 2, {"1h": "1m", "7d": "5m"})
    (csat,) = [r for g in copy["groups"] for r in g["rules"] if r.get("alert") == "PulseCSATDropping"]
    assert csat["for"] == "2s"
    assert 'window="1m"' in csat["expr"] and 'window="5m"' in csat["expr"] and "1h" not in csat["expr"]
    (shipped,) = [r for r in alerts(load_groups()) if r["alert"] == "PulseCSATDropping"]
    assert shipped["for"] == "15m" and 'window="1h"' in shipped["expr"]


def test_fast_config_scrapes_the_given_exporter_fast() -> None:
    shipped = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config = fast_config(shipped, "127.0.0.1:1234", "/tmp/rules.yml")
    assert config["global"]["evaluation_interval"] == "1s" and "alerting" not in config
    assert config["scrape_configs"] == [
        {"job_name": "pulse", "static_configs": [{"targets": ["127.0.0.1:1234"]}]}
    ]
