"""`pulse produce FILE|-`: JSON Lines to the right topics, keyed by their routing key."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from metrics_core.events.decode import decode
from metrics_core.events.model import FAMILIES, Rejection
from metrics_core.routing import routing_key
from metrics_core.settings import Settings
from streams.kafka_security import client_options
from streams.producer import KafkaSender, Message

CHUNK = 1000


@dataclass
class Report:
    sent: dict[str, int] = field(default_factory=dict)
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)


def route(line: bytes, settings: Settings, now_ms: int) -> Message | Rejection:
    """Validate one line as the worker would, and address it: (topic, None, key, value, [])."""
    try:
        kind = orjson.loads(line).get("type", "")
    except (orjson.JSONDecodeError, AttributeError):
        kind = ""
    family = kind.partition(".")[0] if isinstance(kind, str) else ""
    result = decode(line, family if family in FAMILIES else "clickstream", now_ms)
    if isinstance(result, Rejection):
        return result
    return (settings.topic(result.family), None, routing_key(result).encode(), line, [])


async def produce(settings: Settings, lines: Iterable[bytes]) -> Report:
    """Send every valid line; report the invalid ones by line number (they are not sent)."""
    assert settings.kafka_url
    report = Report()
    sender = KafkaSender(settings.kafka_url, client_id="pulse-produce", security=client_options(settings))
    await sender.start()
    try:
        batch: list[Message] = []
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line:
                continue
            routed = route(line, settings, int(time.time() * 1000))
            if isinstance(routed, Rejection):
                report.rejected.append((number, f"{routed.reason.value}: {routed.detail}"))
                continue
            batch.append(routed)
            report.sent[routed[0]] = report.sent.get(routed[0], 0) + 1
            if len(batch) >= CHUNK:
                await sender.send_batch(batch)
                batch = []
        if batch:
            await sender.send_batch(batch)
    finally:
        await sender.stop()
    return report
