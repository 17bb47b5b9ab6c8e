"""What the social tests share: events at N - seconds, a harness on the social topic, scrape lookups."""

from __future__ import annotations

from typing import Any

from metrics_core.batch import Applier, Limits
from metrics_core.families.social import SocialFamily
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import retention_ms
from tests.unit.conftest import HOUR_S, NOW_S, WINDOWS, Harness, Scrape, event

N = NOW_S


SocialHarness = Harness  # the conftest harness, on the social topic


def make_social(label_cap: int = 500, store: MemoryStore | None = None, partition: int = 0) -> SocialHarness:
    store = store if store is not None else MemoryStore()
    limits = Limits(WINDOWS, retention_ms(WINDOWS), 72 * HOUR_S * 1000, 30 * 60_000, label_cap)
    applier = Applier(store, SocialFamily(), limits)
    return SocialHarness(
        store, applier, WINDOWS, label_cap, partition, source=f"social@1|{partition}", family="social"
    )


def social(kind: str, eid: str, ago_s: int, platform: str = "instagram", **fields: Any) -> bytes:
    return event(f"social.{kind}", eid, N - ago_s, platform=platform, **fields)


def inbound(eid: str, ago_s: int, conversation: str, platform: str = "x") -> bytes:
    return social("inbound_message", eid, ago_s, platform, conversation_id=conversation)


def reply(eid: str, ago_s: int, conversation: str, platform: str = "x") -> bytes:
    return social("reply", eid, ago_s, platform, conversation_id=conversation)


def get(scrape: Scrape, name: str, window: str | None, prop: str = "default", **labels: str) -> float | None:
    if window is None:
        return scrape.get(name, property=prop, **labels)
    return scrape.get(name, window=window, property=prop, **labels)
