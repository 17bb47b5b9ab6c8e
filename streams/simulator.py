"""Synthetic traffic: live web sessions with realistic page-view counts, dwell times and clicks.

`WebTraffic` is a pure generator (seeded `random.Random`); `simulate` sends it at a target rate.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from metrics_core.settings import Settings
from streams.producer import KafkaSender

PAGES = ("/", "/pricing", "/features", "/blog", "/blog/launch", "/docs", "/signup", "/checkout")
PLACEMENTS = ("hero-banner", "sidebar-promo", "newsletter-box", "footer-cta")
GOALS = ("signup", "purchase")
FEATURES = ("dashboards", "alerts", "export", "sso")


@dataclass
class _Visit:
    visitor: str
    user: str | None
    views_left: int
    next_ms: int
    session_id: str | None


@dataclass
class WebTraffic:
    """Visits as they unfold: ~40 % bounce, else geometric page views (mean ~4), 5-90 s dwell."""

    rng: random.Random
    properties: tuple[str, ...] = ("shop",)
    visits: list[tuple[int, int, _Visit]] = field(default_factory=list)  # heap by next view time
    _seq: int = 0

    def _new_visit(self, now_ms: int) -> _Visit:
        rng = self.rng
        views = 1 if rng.random() < 0.4 else 2 + int(rng.expovariate(1 / 2.5))
        visitor = f"anon-{rng.getrandbits(40):010x}"
        user = f"user-{rng.randrange(5000)}" if rng.random() < 0.3 else None
        session = f"s-{rng.getrandbits(48):012x}" if rng.random() < 0.5 else None
        return _Visit(visitor, user, views, now_ms, session)

    def events(self, now_ms: int, count: int) -> list[dict[str, Any]]:
        """The next `count` events, stamped at or before `now_ms`."""
        out: list[dict[str, Any]] = []
        while len(out) < count:
            if self.visits and self.visits[0][0] <= now_ms and self.rng.random() < 0.7:
                visit = heapq.heappop(self.visits)[2]
            else:
                visit = self._new_visit(now_ms)
            out.extend(self._step(visit, now_ms))
            if visit.views_left > 0:
                self._seq += 1
                heapq.heappush(self.visits, (visit.next_ms, self._seq, visit))
        return out[:count]

    def _step(self, visit: _Visit, now_ms: int) -> list[dict[str, Any]]:
        rng = self.rng
        ts = min(visit.next_ms, now_ms)
        ids: dict[str, Any] = {"anonymous_id": visit.visitor}
        if visit.user:
            ids["user_id"] = visit.user
        if visit.session_id:
            ids["session_id"] = visit.session_id
        prop = rng.choice(self.properties)
        base = {"timestamp": ts / 1000, "property": prop, **ids}
        events = [
            {
                "event_id": _eid(rng),
                "type": "clickstream.page_view",
                "page": rng.choice(PAGES),
                **base,
            }
        ]
        placement = rng.choice(PLACEMENTS)
        events.append(
            {
                "event_id": _eid(rng),
                "type": "clickstream.impression",
                "placement": placement,
                **base,
            }
        )
        if rng.random() < 0.04:
            events.append(
                {"event_id": _eid(rng), "type": "clickstream.click", "placement": placement, **base}
            )
        if rng.random() < 0.02:
            events.append(
                {
                    "event_id": _eid(rng),
                    "type": "clickstream.conversion",
                    "goal": rng.choice(GOALS),
                    **base,
                }
            )
        if visit.user and rng.random() < 0.2:
            events.append(
                {
                    "event_id": _eid(rng),
                    "type": "clickstream.feature_used",
                    "feature": rng.choice(FEATURES),
                    **base,
                }
            )
        visit.views_left -= 1
        visit.next_ms = ts + int(rng.uniform(5_000, 90_000))
        return events


def _eid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128)))


def routing(event: dict[str, Any]) -> bytes:
    """The key Pulse routes a clickstream event by (session, else visitor)."""
    return str(event.get("session_id") or event.get("anonymous_id") or event["event_id"]).encode()


async def simulate(
    settings: Settings,
    rate: float,
    duration_s: float | None = None,
    count: int | None = None,
    seed: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send web traffic at `rate` events/s until `duration_s` or `count`; returns events sent."""
    assert settings.kafka_url
    traffic = WebTraffic(random.Random(seed))
    sender = KafkaSender(settings.kafka_url, client_id="pulse-simulate")
    await sender.start()
    topic = settings.topic("clickstream")
    sent, started = 0, time.monotonic()
    try:
        while (count is None or sent < count) and (
            duration_s is None or time.monotonic() - started < duration_s
        ):
            due = int((time.monotonic() - started) * rate) + 1 - sent
            if count is not None:
                due = min(due, count - sent)
            if due > 0:
                batch = traffic.events(int(time.time() * 1000), due)
                await sender.send_batch([(topic, None, routing(e), orjson.dumps(e), []) for e in batch])
                sent += len(batch)
                if progress:
                    progress(sent)
            await asyncio.sleep(0.1)
    finally:
        await sender.stop()
    return sent
