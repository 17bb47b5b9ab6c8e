"""Hostile label values through the whole pipeline: every scrape passes promtool, nothing is injected.

Hypothesis writes the values that become labels (page, placement, goal, feature, property,
campaign, platform, survey, plan, event name) from arbitrary Unicode plus the classics of
exposition injection (`"`, `\\`, newlines, `",window="1h`, `}\\npulse_up 0`). The events go
through decode, the families and the in-memory store; the collector's scrape must then pass
`promtool check metrics`, parse back to exactly the declared label names, and every label
value must be printable, at most 128 characters, with e-mail addresses masked.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics_core.batch import Applier, Limits, Record, classify
from metrics_core.exposition.collector import PulseCollector
from metrics_core.exposition.metricset import MetricSet
from metrics_core.labels import MAX_LABEL_CHARS
from metrics_core.registry import EXPOSITIONS, family_logic
from metrics_core.routing import routing_key
from metrics_core.store.base import ShardId
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import retention_ms
from tests.unit.conftest import NOW_MS, NOW_S, SESSION_TIMEOUT_MS, WINDOWS

INJECTIONS = [
    'a"b',
    "a\\b",
    "a\nb",
    'x",window="1h',
    '"} 1\npulse_up 0\n# HELP x',
    "ann@example.com",
    "\u202eevil\u202c",
    "zero\u200bwidth",
    "__other__",
    "",
    " ",
    "😀" * 130,
]
hostile = st.sampled_from(INJECTIONS) | st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=140
)
EMAIL = re.compile(r"[^\s@/?#&=]+@[^\s@/?#&=]+\.[A-Za-z]{2,}")


def _events(v: list[str]) -> dict[str, list[dict[str, Any]]]:
    """One event per labelled field, each carrying one hostile value."""
    base = {"property": v[0]}
    return {
        "clickstream": [
            {"type": "clickstream.page_view", "page": v[1], "anonymous_id": "a", **base},
            {"type": "clickstream.impression", "placement": v[2], "anonymous_id": "a", **base},
            {"type": "clickstream.click", "placement": v[2], "anonymous_id": "a", **base},
            {"type": "clickstream.conversion", "goal": v[3], "anonymous_id": "a", **base},
            {"type": "clickstream.feature_used", "feature": v[4], "user_id": "u", **base},
        ],
        "email": [
            {"type": "email.sent", "message_id": "m", "campaign_id": v[5], **base},
            {"type": "email.delivered", "message_id": "m", "campaign_id": v[5], **base},
        ],
        "social": [
            {"type": "social.like", "platform": v[6], "count": 2, **base},
            {"type": "social.impression", "platform": v[6], "count": 9, **base},
        ],
        "survey": [{"type": "survey.nps", "response_id": "r", "score": 9, "survey_id": v[7], **base}],
        "customer": [
            {"type": "customer.subscription_started", "customer_id": "k", "plan": v[8], **base},
            {"type": "customer.event_registered", "event_name": v[9], "attendee_id": "p", **base},
        ],
    }


def _scrape(values: list[str]) -> str:
    store = MemoryStore()
    limits = Limits(WINDOWS, retention_ms(WINDOWS), 72 * 3_600_000, SESSION_TIMEOUT_MS, 500)
    events, t = _events(values), NOW_S - 120

    async def emit(todo: Any) -> None:
        return None

    async def run() -> None:
        for family, bodies in events.items():
            payloads = [
                orjson.dumps({"event_id": f"{family}-{i}", "timestamp": t, **b}) for i, b in enumerate(bodies)
            ]
            records = [Record(i, p) for i, p in enumerate(payloads)]
            plan = classify(records, family, 0, None, NOW_MS, limits.retention_ms, 65_536, routing_key)
            await Applier(store, family_logic(family), limits).apply(
                ShardId(family, 0), f"{family}@1|0", plan, emit, now_ms=NOW_MS
            )

    asyncio.run(run())
    registry = CollectorRegistry()
    registry.register(PulseCollector(store, WINDOWS, lambda f: f, clock=lambda: NOW_S))
    return generate_latest(registry).decode()


def _declared() -> dict[str, tuple[str, ...]]:
    """Every metric family the collector may yield, with its label names."""
    from metrics_core.exposition import pipeline

    out = MetricSet()
    pipeline.declare(out)
    for module in EXPOSITIONS.values():
        module.declare(out)
    return {m.name: tuple(m._labelnames) for m in out.families()}


DECLARED = _declared()
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "")


def _check(text: str, promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    for family in text_string_to_metric_families(text):
        assert family.name in DECLARED or family.name == "pulse_up", family.name
        for sample in family.samples:
            names = set(sample.labels) - {"le"}
            assert names == set(DECLARED.get(family.name, ())), (sample.name, sample.labels)
            for value in sample.labels.values():
                assert value.isprintable() and len(value) <= MAX_LABEL_CHARS, repr(value)
                assert not EMAIL.search(value), value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(hostile, min_size=10, max_size=10))
@example(values=INJECTIONS[:10])
@example(values=[INJECTIONS[3]] * 10)
def test_hostile_label_values_never_break_the_exposition(values: list[str], promtool: str) -> None:
    _check(_scrape(values), promtool)


def test_an_injection_attempt_stays_inside_its_label_value(promtool: str) -> None:
    text = _scrape(['x",window="1h'] * 10)
    _check(text, promtool)
    pages = [
        s.labels["page"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "pulse_page_views_by_page"
    ]
    assert pages and set(pages) == {'x",window="1h'}  # one label value, escaped on the wire
    assert 'page="x\\",window=\\"1h"' in text
