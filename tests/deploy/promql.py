"""The metric names a PromQL expression reads, and promtool's verdict on many expressions at once.

A small lexer, not a parser: promtool parses; this only finds the names to look up in a scrape.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
    | {"atan2", "inf", "nan"}
)
# Names Prometheus makes itself, not the exporter.
SYNTHETIC = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "vector", "time"})
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_BRACES = re.compile(r"\{[^}]*\}")
_BRACKETS = re.compile(r"\[[^\]]*\]")
_NAME = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?=\s*(\(?))")
_NAME_MATCHER = re.compile(r'__name__\s*=~?\s*"([^"]+)"')


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (functions, keywords and label names left out).

    >>> sorted(metric_names('sum by (topic) (rate(pulse_events_total{topic="a"}[5m])) > 0 and up'))
    ['pulse_events_total', 'up']
    >>> sorted(metric_names('{__name__=~"pulse_(nps|csat)_responses"}'))
    ['pulse_csat_responses', 'pulse_nps_responses']
    """
    names = set()
    for pattern in _NAME_MATCHER.findall(expr):
        names |= _alternatives(pattern)
    text = _STRING.sub('""', expr)
    text = _LABEL_LIST.sub(" ", text)
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    for name, paren in _NAME.findall(text):
        if not paren and name.lower() not in KEYWORDS and not re.fullmatch(r"[0-9a-fA-FxX]+", name):
            names.add(name)
    return names


def _alternatives(pattern: str) -> set[str]:
    """`pulse_(a|b)_c` -> {pulse_a_c, pulse_b_c}: the one regex shape the dashboards use."""
    match = re.fullmatch(r"([\w:]*)\(([\w|]+)\)([\w:]*)", pattern)
    if match is None:
        return {pattern}
    head, options, tail = match.groups()
    return {f"{head}{option}{tail}" for option in options.split("|")}


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Grafana's `$name` / `${name}` variables replaced by sample values."""
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)


def promtool_parses(promtool: str, exprs: Iterable[str], workdir: Path) -> list[str]:
    """promtool's complaints about the expressions (none: all parse), checked as recording rules."""
    rules = [{"record": f"check:expr_{i}", "expr": expr} for i, expr in enumerate(exprs)]
    path = workdir / "expressions.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "expressions", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, timeout=60, check=False
    )
    return [] if result.returncode == 0 else [result.stdout.decode() + result.stderr.decode()]
