"""Small helpers shared by the system tests: settings for one stack, sending, rebasing datasets."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from metrics_core.settings import Settings
from streams.procs import free_port

Item = tuple[bytes | None, Any]  # (key, payload: a JSON-able object, or raw bytes sent as they are)


def system_settings(kafka_url: str, redis_url: str, topic_prefix: str, **overrides: Any) -> Settings:
    """One isolated stack: own topics, consumer group and exporter port; no worker health server
    (several workers run side by side)."""
    fields: dict[str, Any] = {
        "kafka_url": kafka_url,
        "redis_url": redis_url,
        "topic_prefix": topic_prefix,
        "app_id": f"pulse-{topic_prefix}",
        "partitions": 2,
        "windows": "5m,1h",
        "exporter_host": "127.0.0.1",
        "exporter_port": free_port(),
        "worker_health_port": 0,
        "rebalance_timeout_s": 3.0,
        "batch_within_s": 0.05,
    }
    return Settings(**{**fields, **overrides})


async def send(bootstrap: str, topic: str, items: Iterable[Item]) -> None:
    """Send each (key, payload) in order with a plain aiokafka producer, as any client would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, payload in items:
            data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
            await producer.send_and_wait(topic, data, key=key)
    finally:
        await producer.stop()


def rebased(items: Iterable[Item], built_at_s: int) -> list[Item]:
    """A dataset written relative to `built_at_s`, its numeric timestamps shifted to now."""
    delta = int(time.time()) - built_at_s
    return [
        (key, {**p, "timestamp": p["timestamp"] + delta})
        if isinstance(p, dict) and isinstance(p.get("timestamp"), int | float)
        else (key, p)
        for key, p in items
    ]
