"""A cardinality bomb: 100 000 distinct pages and 100 000 distinct campaigns.

Every label keeps at most `PULSE_LABEL_CAP` (500) values in Redis and in the scrape; the
rest fold into `__other__`. Redis memory stays bounded: the bomb costs about what the same
traffic costs with a single page and campaign (entity state and de-duplication fingerprints
grow with events, as they must; labels do not). The batches go through the real batch path
(`classify`, `Applier`, the Redis Functions) in-process, without Kafka, so the figures are
Redis's alone.

    .venv/bin/pytest tests/integration/test_cardinality.py -s   # prints the memory figures
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import orjson
import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics_core.batch import Applier, Limits, Record, classify
from metrics_core.exposition.collector import PulseCollector
from metrics_core.labels import OTHER
from metrics_core.registry import family_logic
from metrics_core.routing import partition_for, routing_key
from metrics_core.settings import Settings
from metrics_core.store.base import ShardId
from metrics_core.store.redis_reader import RedisReader
from metrics_core.store.redis_store import RedisStore, namespace
from streams.bridge import limits_of
from streams.embedded import EmbeddedRedis

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

DISTINCT = 100_000
PARTITIONS = 4
BATCH = 2000
VISITORS = 100


def _events(distinct: int, bomb: bool, now_s: int) -> dict[str, list[bytes]]:
    """`distinct` page views and `distinct` sends: every page and campaign new when `bomb`."""
    views = [
        {
            "event_id": f"pv-{i}",
            "type": "clickstream.page_view",
            "timestamp": now_s - 3000 + i * 2900 // distinct,
            "page": f"/bomb/{i}" if bomb else "/home",
            "anonymous_id": f"v{i % VISITORS}",
        }
        for i in range(distinct)
    ]
    sends = [
        {
            "event_id": f"es-{i}",
            "type": "email.sent",
            "timestamp": now_s - 3000 + i * 2900 // distinct,
            "message_id": f"m{i}",
            "campaign_id": f"campaign-{i}" if bomb else "spring",
        }
        for i in range(distinct)
    ]
    return {"clickstream": [orjson.dumps(e) for e in views], "email": [orjson.dumps(e) for e in sends]}


async def _apply(url: str, ns: str, limits: Limits, events: dict[str, list[bytes]]) -> None:
    """The worker's batch path, partition by partition, without Kafka."""
    store = RedisStore(url, ns)
    await store.setup()

    async def emit(todo: Any) -> None:
        assert not todo.rejected and not todo.forwards

    try:
        for family, payloads in events.items():
            by_partition: defaultdict[int, list[bytes]] = defaultdict(list)
            for payload in payloads:
                body = orjson.loads(payload)
                key = body.get("anonymous_id") or body["message_id"]
                by_partition[partition_for(key, PARTITIONS)].append(payload)
            applier = Applier(store, family_logic(family), limits)
            now_ms = int(time.time() * 1000)
            for partition, items in sorted(by_partition.items()):
                for start in range(0, len(items), BATCH):
                    records = [Record(start + i, p) for i, p in enumerate(items[start : start + BATCH])]
                    plan = classify(
                        records,
                        family,
                        partition,
                        PARTITIONS,
                        now_ms,
                        limits.retention_ms,
                        65_536,
                        routing_key,
                    )
                    await applier.apply(ShardId(family, partition), f"c/{family}/t|{partition}", plan, emit)
    finally:
        await store.close()


def _used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])  # type: ignore[index]


def _label_values(text: str, metric: str, label: str) -> dict[str, set[str]]:
    """Per window, the values of `label` in the samples of `metric`."""
    found: defaultdict[str, set[str]] = defaultdict(set)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == metric:
                found[sample.labels["window"]].add(sample.labels[label])
    return found


def test_a_cardinality_bomb_keeps_labels_at_the_cap_and_memory_bounded(
    redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    settings = Settings(label_cap=500)
    limits = limits_of(settings)
    now_s = int(time.time())
    grown: dict[str, int] = {}
    keys: dict[str, int] = {}
    for name, bomb in (("baseline", False), ("bomb", True)):
        redis_client.flushall()
        before = _used_memory(redis_client)
        ns = namespace(name)
        asyncio.run(_apply(redis_server.url, ns, limits, _events(DISTINCT, bomb, now_s)))
        grown[name], keys[name] = _used_memory(redis_client) - before, int(redis_client.dbsize())

    reader = RedisReader(redis_server.url, namespace("bomb"))
    registry = CollectorRegistry()
    registry.register(
        PulseCollector(reader, settings.window_list, settings.topic, label_cap=settings.label_cap)
    )
    text = generate_latest(registry).decode()
    for metric, label in (("pulse_page_views_by_page", "page"), ("pulse_email_campaign_sent", "campaign")):
        per_window = _label_values(text, metric, label)
        assert set(per_window) == {w.label for w in settings.window_list}
        for window, values in per_window.items():
            assert OTHER in values, (metric, window)
            assert len(values - {OTHER}) <= settings.label_cap, (metric, window, len(values))
    for family, label in (("clickstream", "page"), ("email", "campaign")):
        for partition in range(PARTITIONS):
            admitted = redis_client.zcard(f"{{{namespace('bomb')}:{family}:{partition}}}:lab:{label}")
            assert admitted <= settings.label_cap, (family, partition, admitted)

    events = 2 * DISTINCT
    extra = grown["bomb"] - grown["baseline"]
    print(
        f"\ncardinality bomb: {DISTINCT} distinct pages + {DISTINCT} distinct campaigns ({events} events): "
        f"Redis grew {grown['bomb'] / 2**20:.1f} MiB ({grown['bomb'] / events:.0f} B/event, "
        f"{keys['bomb']} keys); "
        f"the same traffic with one page and one campaign: {grown['baseline'] / 2**20:.1f} MiB "
        f"({keys['baseline']} keys); the bomb's extra: {extra / 2**20:.1f} MiB"
    )
    assert extra < 0.05 * grown["baseline"] + 2 * 2**20  # the labels add a bounded amount (measured: 0.3 MiB)
