"""A little traffic of every family, applied to a real Redis, and the exporter's real scrape of it.

Dashboards and alert rules name metrics; `real_scrape` shows which names the exporter serves.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import orjson
from prometheus_client import generate_latest

from metrics_core.batch import Applier, Plan, Record, classify
from metrics_core.events.model import FAMILIES
from metrics_core.registry import family_logic
from metrics_core.routing import routing_key
from metrics_core.settings import Settings
from metrics_core.store.base import ShardId
from metrics_core.store.redis_store import RedisStore, namespace
from streams.bridge import limits_of
from streams.exporter import build_registry

WINDOWS = "5m,1h,24h,7d,30d"


def _events(now_s: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(kind: str, ago_s: int, **fields: Any) -> None:
        out.append(
            {
                "event_id": f"e{len(out)}",
                "type": kind,
                "timestamp": now_s - ago_s,
                "property": "shop",
                **fields,
            }
        )

    for i, page in enumerate(("/", "/pricing", "/", "/docs")):
        add("clickstream.page_view", 200 - i * 10, page=page, anonymous_id=f"v{i % 2}", user_id=f"u{i % 2}")
    add("clickstream.impression", 150, placement="hero", anonymous_id="v0")
    add("clickstream.click", 140, placement="hero", anonymous_id="v0")
    add("clickstream.conversion", 130, goal="signup", anonymous_id="v0")
    add("clickstream.feature_used", 120, feature="export", user_id="u0")
    for m in range(4):
        ids = {"message_id": f"m{m}", "campaign_id": "spring"}
        add("email.sent", 3000, **ids)
        add("email.delivered", 2990, **ids)
    add("email.opened", 2900, message_id="m0", campaign_id="spring")
    add("email.clicked", 2800, message_id="m0", campaign_id="spring")
    add("email.bounced", 2950, message_id="m1", campaign_id="spring", bounce_type="hard")
    add("email.dropped", 2950, message_id="m2", campaign_id="spring")
    add("email.spam_reported", 2000, message_id="m3", campaign_id="spring")
    add("email.unsubscribed", 2000, message_id="m3", campaign_id="spring")
    add("email.converted", 1000, message_id="m0", campaign_id="spring", value=20)
    for kind in ("impression", "like", "comment", "share", "save", "click", "unlike"):
        add(f"social.{kind}", 300, platform="x", count=3 if kind == "impression" else 1)
    add("social.mention", 300, platform="x", brand="acme", own=True)
    add("social.mention", 290, platform="x", brand="rival", own=False)
    add("social.followers", 90_000, platform="x", followers=100)
    add("social.followers", 100, platform="x", followers=110)
    add("social.follow", 100, platform="x", count=10)
    add("social.unfollow", 100, platform="x", count=1)
    add("social.inbound_message", 400, platform="x", conversation_id="cv1")
    add("social.reply", 340, platform="x", conversation_id="cv1")
    for r, score in enumerate((10, 9, 7, 3)):
        add("survey.nps", 500 + r, response_id=f"n{r}", score=score, survey_id="relationship")
    for r, score in enumerate((5, 4, 2)):
        add("survey.csat", 400 + r, response_id=f"c{r}", score=score, survey_id="support")
    add("survey.ces", 300, response_id="x0", score=3, survey_id="onboarding")
    for c in range(4):
        add("customer.subscription_started", 20 * 86_400, customer_id=f"cu{c}", plan="pro")
    add("customer.subscription_cancelled", 600, customer_id="cu0", reason="voluntary", plan="pro")
    add("customer.subscription_started", 500, customer_id="cu9", plan="pro")
    add("customer.subscription_cancelled", 800, customer_id="cu3", reason="involuntary", plan="pro")
    add("customer.subscription_reactivated", 400, customer_id="cu3", plan="pro")
    add("customer.order_placed", 10 * 86_400, order_id="o0", customer_id="cu1", amount=10)
    add("customer.order_placed", 300, order_id="o1", customer_id="cu1", amount=30)
    add("customer.order_placed", 290, order_id="o2", customer_id="cu2", amount=50)
    add("customer.ticket_opened", 3000, ticket_id="t1")
    add("customer.ticket_resolved", 600, ticket_id="t1")
    add("customer.event_registered", 900, event_name="summit", attendee_id="a1")
    add("customer.event_registered", 900, event_name="summit", attendee_id="a2")
    add("customer.event_attended", 800, event_name="summit", attendee_id="a1")
    add("customer.event_interaction", 700, event_name="summit", attendee_id="a1")
    return out


async def _apply_all(settings: Settings, now_s: int) -> None:
    assert settings.redis_url
    store = RedisStore(settings.redis_url, namespace(settings.topic_prefix))
    await store.setup()
    by_family: defaultdict[str, list[bytes]] = defaultdict(list)
    for event in _events(now_s):
        by_family[event["type"].partition(".")[0]].append(orjson.dumps(event))
    by_family["clickstream"].append(b"not json")  # one rejection, so its counter moves too

    async def emit(todo: Plan) -> None:
        pass  # nothing is re-keyed (one partition) and the DLQ copy is not under test here

    try:
        for family in FAMILIES:
            applier = Applier(store, family_logic(family), limits_of(settings))
            records = [Record(offset, value) for offset, value in enumerate(by_family[family])]
            plan = classify(
                records, family, 0, None, now_s * 1000, settings.retention_ms, 65_536, routing_key
            )
            await applier.apply(
                ShardId(family, 0), f"{family}@test|0", plan, emit, {f"lag\x1f{family}\x1f0": 0}
            )
    finally:
        await store.close()


def real_scrape(redis_url: str) -> str:
    """Apply the traffic through the worker's core to Redis; scrape it with the exporter's registry."""
    settings = Settings(redis_url=redis_url, windows=WINDOWS)
    asyncio.run(_apply_all(settings, int(time.time())))
    return generate_latest(build_registry(settings)).decode()
