"""A deterministic multi-family workload: known events, 10 % re-sent, a little garbage.

Everything follows from a seed and the time it is built (`t0_s`). Event times fall in two
bands far from every window edge for the whole run: RECENT (inside 1h and 24h) and OLD
(inside 24h only), so a window's edge cannot blur the comparison. Entities never straddle the
bands: a session, an e-mail message, a survey response keep all their events in one band.

Producers misbehave the ways they do in the field: 3 % of events are sent without a key,
10 % are sent twice (right away, later, later to another partition, or later without a key),
and 0.5 % of the messages are garbage of five kinds. The messages are sent in random order,
so sessions, messages and responses arrive out of order.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

MINUTE_S, HOUR_S = 60, 3600
RECENT = (30 * MINUTE_S, 2 * MINUTE_S)  # seconds before t0: [t0 − 30 min, t0 − 2 min]
OLD = (6 * HOUR_S, 2 * HOUR_S)  # [t0 − 6 h, t0 − 2 h]
SHARES = {"clickstream": 0.40, "email": 0.25, "customer": 0.15, "survey": 0.10, "social": 0.10}
PROPERTIES = ("shop", "blog")
PAGES = tuple(f"/p/{i}" for i in range(24))
PLACEMENTS = ("hero", "sidebar", "footer", "modal")
CAMPAIGNS = tuple(f"spring-{i}" for i in range(6))
PLATFORMS = ("x", "linkedin", "instagram")
SURVEYS = ("onboarding", "support")
PLANS = ("basic", "pro")
CURRENCIES = ("USD", "EUR")
DUPLICATE_SHARE = 0.10
UNKEYED_SHARE = 0.03
GARBAGE_SHARE = 0.005


@dataclass(frozen=True, slots=True)
class Message:
    """One Kafka message as the producer sends it."""

    family: str
    key: bytes | None
    value: bytes
    partition: int | None = None  # set: sent to this partition explicitly


@dataclass
class Workload:
    t0_s: int
    partitions: int
    events: list[dict[str, Any]] = field(default_factory=list)  # each distinct event once
    messages: list[Message] = field(default_factory=list)  # in send order
    duplicates: Counter[str] = field(default_factory=Counter)  # family -> events sent twice
    garbage: Counter[tuple[str, str]] = field(default_factory=Counter)  # (family, reason) -> messages

    @property
    def sent(self) -> int:
        return len(self.messages)


def routing_key(event: dict[str, Any]) -> str:
    """The key README "Sending events" asks for (the entity id; else the event id)."""
    family = event["type"].split(".")[0]
    names = {
        "clickstream": ("session_id", "anonymous_id", "user_id"),
        "email": ("message_id",),
        "survey": ("response_id",),
        "customer": ("customer_id",),
    }.get(family, ())
    return next((str(event[n]) for n in names if event.get(n)), event["event_id"])


def kafka_partition(key: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as the Java client and aiokafka apply it."""
    return (int(murmur2(key.encode())) & 0x7FFFFFFF) % partitions


class _Builder:
    def __init__(self, seed: int, t0_s: int) -> None:
        self.rng = random.Random(seed)
        self.t0_s = t0_s
        self.seed = seed
        self.events: list[dict[str, Any]] = []
        self._ids = 0

    def at(self, band: tuple[int, int], room_s: int = 0) -> int:
        """A time in the band leaving `room_s` seconds after it for the entity's later events."""
        return self.t0_s - self.rng.randint(band[1] + room_s, band[0])

    def band(self) -> tuple[int, int]:
        return RECENT if self.rng.random() < 0.6 else OLD

    def add(self, type_: str, ts: int, **fields: Any) -> None:
        self._ids += 1
        event = {"event_id": f"x{self.seed}-{self._ids}", "type": type_, "timestamp": ts, **fields}
        self.events.append(event)

    # --- one entity per call

    def visitor(self, n: int) -> None:
        rng, prop, visitor = self.rng, self.rng.choice(PROPERTIES), f"v{n}"
        bands = [RECENT] if rng.random() < 0.5 else [OLD] if rng.random() < 0.5 else [OLD, RECENT]
        for s, band in enumerate(bands):  # OLD then RECENT: far more than 30 min apart
            ids: dict[str, str] = {"anonymous_id": visitor}
            if rng.random() < 0.3:
                ids["session_id"] = f"{visitor}-s{s}"
            views = rng.choice((1, 1, 2, 3, 4, 6))
            ts = self.at(band, room_s=views * 120)
            for _ in range(views):
                self.add("clickstream.page_view", ts, property=prop, page=rng.choice(PAGES), **ids)
                ts += rng.randint(5, 110)  # under the 30 min timeout: one session
            if rng.random() < 0.5:
                placement = rng.choice(PLACEMENTS)
                shown = self.at(band)
                self.add(
                    "clickstream.impression", shown, property=prop, placement=placement, anonymous_id=visitor
                )
                if rng.random() < 0.3:
                    self.add(
                        "clickstream.click",
                        shown + 3,
                        property=prop,
                        placement=placement,
                        anonymous_id=visitor,
                    )

    def message(self, n: int) -> None:
        rng, band = self.rng, self.band()
        ids = {"property": "shop", "message_id": f"m{n}", "campaign_id": rng.choice(CAMPAIGNS)}
        sent = self.at(band, room_s=700)
        self.add("email.sent", sent, **ids)
        if rng.random() < 0.06:
            self.add("email.bounced", sent + 5, bounce_type=rng.choice(("hard", "soft")), **ids)
            return
        if rng.random() < 0.9:
            self.add("email.delivered", sent + 4, **ids)
        if rng.random() < 0.45:
            self.add("email.opened", sent + rng.randint(10, 300), machine=rng.random() < 0.3, **ids)
            if rng.random() < 0.3:
                self.add("email.opened", sent + rng.randint(301, 600), **ids)  # a second open
        if rng.random() < 0.2:
            self.add("email.clicked", sent + rng.randint(10, 600), bot=rng.random() < 0.15, **ids)
        if rng.random() < 0.03:
            self.add("email.unsubscribed", sent + 650, **ids)

    def response(self, n: int) -> None:
        rng, band = self.rng, self.band()
        ids = {"property": "shop", "response_id": f"r{n}", "survey_id": rng.choice(SURVEYS)}
        first = self.at(band, room_s=700)
        if rng.random() < 0.7:
            self.add("survey.nps", first, score=rng.randint(0, 10), **ids)
            if rng.random() < 0.2:  # revised later: the latest answer counts, at the first's time
                self.add("survey.nps", first + rng.randint(60, 600), score=rng.randint(0, 10), **ids)
        else:
            self.add("survey.csat", first, score=rng.randint(1, 5), **ids)

    def customer(self, n: int) -> None:
        rng, customer, plan = self.rng, f"k{n}", self.rng.choice(PLANS)
        ids = {"property": "shop", "customer_id": customer}
        started = self.t0_s - rng.randint(7 * HOUR_S, 10 * HOUR_S)  # before both bands
        self.add("customer.subscription_started", started, plan=plan, **ids)
        if rng.random() < 0.3:
            cancelled = self.at(self.band(), room_s=200)
            reason = rng.choice(("voluntary", "involuntary"))
            self.add("customer.subscription_cancelled", cancelled, plan=plan, reason=reason, **ids)
            if rng.random() < 0.3:
                self.add("customer.subscription_reactivated", cancelled + 100, plan=plan, **ids)
        for i in range(rng.choice((0, 1, 1, 2, 3))):
            amount = rng.randint(4, 800) / 4  # quarters: exact in binary floating point
            self.add(
                "customer.order_placed",
                self.at(self.band()),
                order_id=f"{customer}-o{i}",
                amount=amount,
                currency=rng.choice(CURRENCIES),
                **ids,
            )

    def social(self, n: int) -> None:
        rng, platform, band = self.rng, self.rng.choice(PLATFORMS), self.band()
        kind = rng.choice(("impression", "like", "like", "unlike", "comment", "share"))
        count = rng.randint(1, 40) if kind == "impression" else rng.randint(1, 5)
        self.add(f"social.{kind}", self.at(band), property="shop", platform=platform, count=count)


_MAKERS = {
    "clickstream": _Builder.visitor,
    "email": _Builder.message,
    "survey": _Builder.response,
    "customer": _Builder.customer,
    "social": _Builder.social,
}


def build(seed: int, events: int, t0_s: int, partitions: int) -> Workload:
    """About `events` distinct events over every family, and the messages that carry them."""
    builder = _Builder(seed, t0_s)
    for family, share in SHARES.items():
        goal, n = len(builder.events) + int(events * share), 0
        while len(builder.events) < goal:
            _MAKERS[family](builder, n)
            n += 1
    workload = Workload(t0_s, partitions, builder.events)
    _messages(workload, random.Random(seed + 1))
    return workload


def _messages(w: Workload, rng: random.Random) -> None:
    """Originals in random order, duplicates placed as producers retry, garbage sprinkled in."""
    originals = list(w.events)
    rng.shuffle(originals)
    slots: list[list[Message]] = [[] for _ in originals]
    for i, event in enumerate(originals):
        family, key = event["type"].split(".")[0], routing_key(event)
        body = orjson.dumps(event)
        unkeyed = rng.random() < UNKEYED_SHARE
        slots[i].append(Message(family, None if unkeyed else key.encode(), body))
        if rng.random() >= DUPLICATE_SHARE:
            continue
        w.duplicates[family] += 1
        how = rng.choice(("now", "later", "other-partition", "no-key"))
        later = i if how == "now" else rng.randint(i, len(originals) - 1)
        owner = kafka_partition(key, w.partitions)
        if how == "other-partition":
            copy = Message(family, key.encode(), body, (owner + 1) % w.partitions)
        else:
            copy = Message(family, None if how == "no-key" else key.encode(), body)
        slots[later].append(copy)
    w.messages = [m for slot in slots for m in slot]
    for n in range(max(5, int(len(w.messages) * GARBAGE_SHARE))):
        family = rng.choice(list(SHARES))
        reason, value = _garbage(rng, family, n, w.t0_s - HOUR_S)
        w.garbage[(family, reason)] += 1
        w.messages.insert(
            rng.randint(0, len(w.messages)), Message(family, f"g{rng.random()}".encode(), value)
        )


def _garbage(rng: random.Random, family: str, n: int, ts: int) -> tuple[str, bytes]:
    """One message the worker must reject, and the reason it must give."""
    base = {"event_id": f"garbage-{n}", "timestamp": ts}
    reason = rng.choice(("invalid_json", "not_an_object", "unknown_type", "missing_field", "wrong_topic"))
    if reason == "invalid_json":
        return reason, b"\xff\xfe{not json"
    if reason == "not_an_object":
        return reason, b'["an", "array"]'
    if reason == "unknown_type":
        return reason, orjson.dumps({**base, "type": f"{family}.teleported"})
    if reason == "missing_field":
        return reason, orjson.dumps({**base, "type": _NEEDS_FIELDS[family]})
    other = next(f for f in SHARES if f != family)  # a valid event of another family
    return reason, orjson.dumps({**base, "type": _NEEDS_FIELDS[other], **_FIELDS[other]})


_NEEDS_FIELDS = {
    "clickstream": "clickstream.page_view",
    "email": "email.sent",
    "survey": "survey.nps",
    "customer": "customer.order_placed",
    "social": "social.like",
}
_FIELDS: dict[str, dict[str, Any]] = {
    "clickstream": {"page": "/", "anonymous_id": "g"},
    "email": {"message_id": "g", "campaign_id": "g"},
    "survey": {"response_id": "g", "score": 5},
    "customer": {"order_id": "g", "customer_id": "g", "amount": 1},
    "social": {"platform": "x"},
}
