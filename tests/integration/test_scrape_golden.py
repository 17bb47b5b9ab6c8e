"""The whole exposition of a populated Redis, byte for byte against a golden file.

A month of five families' traffic (tests/month.py: five properties, a label cap of 3, so
labels fold into `__other__`) goes through the worker's batch path into four partitions of a
real Redis, and is scraped once at the month's fixed clock: the default windows, and 20h
beside 24h (two windows of one tier). A change to how the exporter reads or builds the scrape
must not change a byte of it (test_cluster.py runs this test on a Redis Cluster too).

Regenerate only for an intended change of the exposition:
`PULSE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/integration/test_scrape_golden.py`.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from metrics_core.exposition.collector import PulseCollector
from metrics_core.store.redis_reader import RedisReader
from metrics_core.store.redis_store import RedisStore, connect, namespace
from tests.month import LABEL_CAP, NOW_MS, WINDOWS, populate

pytestmark = pytest.mark.integration

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "scrape_golden.prom"


async def _populate(url: str, ns: str, clock: Callable[[], float] = time.perf_counter) -> None:
    store = RedisStore(url, ns)
    try:
        await store.setup()
        await populate(store, clock)
    finally:
        await store.close()


def scrape(url: str, ns: str) -> str:
    registry = CollectorRegistry(auto_describe=False)
    reader = RedisReader(url, ns)
    collector = PulseCollector(reader, WINDOWS, lambda f: f, label_cap=LABEL_CAP, clock=lambda: NOW_MS / 1000)
    registry.register(collector)
    return generate_latest(registry).decode()


def test_the_scrape_of_a_populated_redis_is_the_golden_text(redis_server: Any, topic_prefix: str) -> None:
    ns = namespace(topic_prefix)
    asyncio.run(_populate(redis_server.url, ns, clock=lambda: 0.0))  # apply latency 0 s
    text = scrape(redis_server.url, ns)
    assert "pulse_up 1.0" in text
    if os.environ.get("PULSE_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    expected = GOLDEN.read_text()
    assert len(text.splitlines()) == len(expected.splitlines())
    assert text == expected


def test_the_exporter_loads_its_functions_into_a_redis_that_lost_them(
    redis_server: Any, topic_prefix: str
) -> None:
    """E.g. a Redis restarted without persistence before any worker loaded them again."""
    ns = namespace(topic_prefix)
    asyncio.run(_populate(redis_server.url, ns))
    before = scrape(redis_server.url, ns)
    client = connect(redis_server.url)
    try:
        client.function_flush()
        assert scrape(redis_server.url, ns) == before
        assert client.function_list(library="pulse_read_v1")
    finally:
        client.close()
