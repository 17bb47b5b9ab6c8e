"""Pulse's Prometheus rule files, read once and turned into a PrometheusRule or a fast test copy.

The YAML files under deploy/prometheus/rules are the source: Prometheus and promtool read them
as they are; Kubernetes gets them wrapped in a PrometheusRule (`python -m deploy.build`); the
end-to-end alert test gets a copy with short `for:` and its own short windows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
RULES_DIR = DEPLOY / "prometheus" / "rules"
K8S_LABELS = {"app.kubernetes.io/name": "pulse", "app.kubernetes.io/part-of": "pulse"}
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_WINDOW = re.compile(r'window="([^"]+)"')


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def load_groups(files: list[Path] | None = None) -> list[dict[str, Any]]:
    """Every rule group of the rule files, in file order."""
    groups: list[dict[str, Any]] = []
    for path in files if files is not None else rule_files():
        groups.extend(yaml.safe_load(path.read_text())["groups"])
    return groups


def alerts(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def duration_s(text: str) -> float:
    """A Prometheus duration in seconds, e.g. `duration_s("1h30m") -> 5400.0`.

    >>> duration_s("1h30m"), duration_s("2s")
    (5400.0, 2.0)
    """
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return float(sum(int(n) * _SECONDS[u] for n, u in parts))


def prometheus_rule(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The Prometheus Operator's PrometheusRule holding `groups` unchanged."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "pulse", "labels": dict(K8S_LABELS)},
        "spec": {"groups": groups},
    }


def fast_copy(
    groups: list[dict[str, Any]], for_s: float = 2.0, windows: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A rule file for a fast test: every `for:` at most `for_s`, window labels renamed.

    >>> rule = {"alert": "A", "expr": 'x{window="1h"} > 1', "for": "15m"}
    >>> copy = fast_copy([{"name": "g", "rules": [rule]}], 2, {"1h": "1m"})
    >>> copy["groups"][0]["rules"][0]["expr"], copy["groups"][0]["rules"][0]["for"]
    ('x{window="1m"} > 1', '2s')
    """
    renames = dict(windows or {})

    def rename(match: re.Match[str]) -> str:
        return f'window="{renames.get(match.group(1), match.group(1))}"'

    copied = []
    for group in groups:
        rules = []
        for rule in group["rules"]:
            rule = {**rule, "expr": _WINDOW.sub(rename, rule["expr"])}
            if "for" in rule and duration_s(rule["for"]) > for_s:
                rule["for"] = f"{for_s:g}s"
            rules.append(rule)
        copied.append({**group, "rules": rules})
    return {"groups": copied}


def fast_config(
    shipped: Mapping[str, Any], target: str, rule_file: str, interval_s: float = 1.0
) -> dict[str, Any]:
    """The shipped prometheus.yml for a test: job "pulse" scrapes `target`, fast, no Alertmanager."""
    config = dict(shipped)
    every = f"{interval_s:g}s"
    config["global"] = {**shipped.get("global", {}), "scrape_interval": every, "evaluation_interval": every}
    config["rule_files"] = [rule_file]
    config.pop("alerting", None)
    config["scrape_configs"] = [
        {**job, "static_configs": [{"targets": [target]}]}
        for job in shipped["scrape_configs"]
        if job["job_name"] == "pulse"
    ]
    return config
