"""What the customer tests share: events at N - seconds, one partition's worker, and scrape lookups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from metrics_core.batch import Applier, Limits, Outcome, classify
from metrics_core.exposition.customer import NOW_SPECS, SPECS
from metrics_core.families.customer import CustomerFamily
from metrics_core.routing import routing_key
from metrics_core.store.base import ShardId
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import retention_ms
from tests.unit.conftest import (
    HOUR_S,
    NOW_MS,
    NOW_S,
    SESSION_TIMEOUT_MS,
    WINDOWS,
    Scrape,
    event,
    parse,
    records,
    scrape_text,
)

N = NOW_S
MIN = 60
SHARD = ShardId("customer", 0)


def started(eid: str, ago_s: int, customer: str, plan: str | None = "pro", **more: Any) -> bytes:
    return event("customer.subscription_started", eid, N - ago_s, customer_id=customer, plan=plan, **more)


def reactivated(eid: str, ago_s: int, customer: str, **more: Any) -> bytes:
    return event("customer.subscription_reactivated", eid, N - ago_s, customer_id=customer, **more)


def cancelled(eid: str, ago_s: int, customer: str, reason: str | None = "voluntary") -> bytes:
    return event("customer.subscription_cancelled", eid, N - ago_s, customer_id=customer, reason=reason)


def order(eid: str, ago_s: int, customer: str, order_id: str, amount: float, currency: str = "USD") -> bytes:
    return event(
        "customer.order_placed",
        eid,
        N - ago_s,
        customer_id=customer,
        order_id=order_id,
        amount=amount,
        currency=currency,
    )


def ticket(eid: str, kind: str, ago_s: int, ticket_id: str) -> bytes:
    return event(f"customer.ticket_{kind}", eid, N - ago_s, ticket_id=ticket_id)


def attendance(eid: str, kind: str, ago_s: int, attendee: str, name: str = "webinar") -> bytes:
    return event(f"customer.event_{kind}", eid, N - ago_s, event_name=name, attendee_id=attendee)


@dataclass
class Customers:
    """One customer partition's worker on the in-memory store, with a fixed clock."""

    store: MemoryStore
    applier: Applier
    next_offset: int = 0

    async def feed(self, *values: bytes, now_ms: int = NOW_MS) -> Outcome:
        batch = records(values, self.next_offset)
        self.next_offset += len(batch)
        plan = classify(batch, "customer", 0, None, now_ms, retention_ms(WINDOWS), 65_536, routing_key)
        assert not plan.rejected, plan.rejected

        async def emit(_: object) -> None:
            return None

        return await self.applier.apply(SHARD, "customer@1|0", plan, emit, now_ms=now_ms)

    def scrape(self, now_ms: int = NOW_MS, label_cap: int = 500) -> Scrape:
        return parse(scrape_text(self.store, now_ms, label_cap=label_cap))


def customers() -> Customers:
    store = MemoryStore()
    limits = Limits(WINDOWS, retention_ms(WINDOWS), 72 * HOUR_S * 1000, SESSION_TIMEOUT_MS, 500)
    return Customers(store, Applier(store, CustomerFamily(), limits))


def get(scrape: Scrape, name: str, window: str | None = "1h", **labels: str) -> float | None:
    found = {"property": "default", **labels}
    if window is not None:
        found["window"] = window
    return scrape.get(name, **found)


def gauges(scrape: Scrape) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The customer family's samples (pipeline metrics such as apply latency left out)."""
    names = tuple([*SPECS, *NOW_SPECS])
    return {key: v for key, v in scrape.samples.items() if key[0].startswith(names)}
