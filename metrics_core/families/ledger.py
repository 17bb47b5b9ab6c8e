"""The customer ledger: one customer's subscriptions and orders, and what they contribute.

A customer's status at time t is set by its last subscription event at or before t (by event
time): started or reactivated make it active, cancelled inactive. Each status change is a
transition counted at its event time: `act` (inactive -> active; also `new` when it is the
customer's first activation ever) and `churn` (active -> inactive, by reason). A late or
out-of-order event recomputes the transitions: the old ones are retracted, the new ones added,
so any arrival order gives the same counters. The status after the last event is "active now",
a total per plan.

State (JSON; it never expires: "ever active" and the lifetime order count outlive every
window, and the ledger is bounded by the number of customers):
  p  property label the transitions were counted under
  s  subscription events within retention, sorted: [[ts_ms, kind, plan, reason], ...]
  b  what older (compacted) subscription events left: [active, plan, ever_active]
  a  [property, plan] of the "active now" total this customer adds, or null
  o  orders within retention, sorted: [[ts_ms, order fingerprint], ...]
  n  lifetime order count
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from metrics_core.events.model import Event
from metrics_core.families.base import Context
from metrics_core.families.changes import Changes, field_name
from metrics_core.labels import sanitize

START, REACTIVATE, CANCEL = "start", "react", "cancel"
KINDS = {
    "customer.subscription_started": START,
    "customer.subscription_reactivated": REACTIVATE,
    "customer.subscription_cancelled": CANCEL,
}
_RANK = {START: 0, REACTIVATE: 1, CANCEL: 2}  # equal timestamps: the cancellation comes last
REASONS = ("voluntary", "involuntary", "unspecified")
NO_PLAN = "none"

NEVER_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z: the ledger's "no expiry" (Redis wants a time)
MICROS = 1_000_000
MAX_ORDER_AMOUNT = 10**12  # larger orders are ignored: their micro-units would near 64-bit limits


class Sub(NamedTuple):
    """One subscription event: `plan` "" when absent; `reason` "" for activations."""

    ts_ms: int
    kind: str
    plan: str
    reason: str

    @property
    def order(self) -> tuple[int, int, str, str]:
        return (self.ts_ms, _RANK[self.kind], self.plan, self.reason)


class Base(NamedTuple):
    """What compacted subscription events left: status, last plan, and whether ever active."""

    active: bool = False
    plan: str = ""
    ever: bool = False


class Order(NamedTuple):
    """An order this batch adds: its time, currency label and amount in micro-units."""

    ts_ms: int
    currency: str
    micros: int


NEVER_ACTIVE = Base()


class Transition(NamedTuple):
    ts_ms: int
    code: str  # "act", "new" or "churn"
    reason: str  # the churn reason; "" otherwise


@dataclass(frozen=True)
class Ledger:
    """One customer's ledger (see the module docstring for the JSON it is stored as)."""

    prop: str | None = None
    subs: tuple[Sub, ...] = ()
    base: Base = NEVER_ACTIVE
    active_now: tuple[str, str] | None = None
    orders: tuple[tuple[int, str], ...] = ()
    lifetime_orders: int = 0

    @classmethod
    def load(cls, raw: bytes | None) -> Ledger:
        if not raw:
            return cls()
        d = orjson.loads(raw)
        return cls(
            d["p"],
            tuple(Sub(*s) for s in d["s"]),
            Base(*d["b"]),
            (d["a"][0], d["a"][1]) if d["a"] else None,
            tuple((ts, fp) for ts, fp in d["o"]),
            d["n"],
        )

    def dump(self) -> bytes:
        return orjson.dumps(
            {
                "p": self.prop,
                "s": [list(s) for s in self.subs],
                "b": list(self.base),
                "a": list(self.active_now) if self.active_now else None,
                "o": [list(o) for o in self.orders],
                "n": self.lifetime_orders,
            }
        )


def transitions(base: Base, subs: Sequence[Sub]) -> list[Transition]:
    """Every status change, in event-time order.

    >>> subs = [Sub(1, START, "", ""), Sub(2, CANCEL, "", "voluntary"), Sub(3, CANCEL, "", "involuntary"),
    ...         Sub(4, REACTIVATE, "", "")]
    >>> [(t.ts_ms, t.code, t.reason) for t in transitions(Base(), subs)]  # the 2nd cancel changes nothing
    [(1, 'act', ''), (1, 'new', ''), (2, 'churn', 'voluntary'), (4, 'act', '')]
    """
    active, ever = base.active, base.ever
    found: list[Transition] = []
    for sub in subs:
        if sub.kind == CANCEL:
            if active:
                found.append(Transition(sub.ts_ms, "churn", sub.reason))
            active = False
        elif not active:
            found.append(Transition(sub.ts_ms, "act", ""))
            if not ever:
                found.append(Transition(sub.ts_ms, "new", ""))
            active = ever = True
    return found


def compact(base: Base, subs: Sequence[Sub], horizon_ms: int) -> tuple[Base, tuple[Sub, ...]]:
    """Fold the events at or before `horizon_ms` into the base (nothing can land before it any more).

    >>> compact(Base(), [Sub(1, START, "pro", ""), Sub(5, CANCEL, "", "voluntary")], 2)
    (Base(active=True, plan='pro', ever=True), (Sub(ts_ms=5, kind='cancel', plan='', reason='voluntary'),))
    """
    old = [s for s in subs if s.ts_ms <= horizon_ms]
    return status(base, old), tuple(s for s in subs if s.ts_ms > horizon_ms)


def status(base: Base, subs: Sequence[Sub]) -> Base:
    """The status after `subs`: active or not, the latest plan given, ever active."""
    active, plan, ever = base
    for sub in subs:
        active = sub.kind != CANCEL
        plan = sub.plan or plan
        ever = ever or active
    return Base(active, plan, ever)


def order_fingerprint(order_id: str) -> str:
    """A short non-reversible fingerprint: order ids are kept for de-duplication, not shown."""
    return hashlib.blake2b(order_id.encode(), digest_size=8).hexdigest()


def _sub_of(event: Event) -> Sub:
    fields = event.fields
    kind = KINDS[event.type]
    reason = (fields.get("reason") or "unspecified") if kind == CANCEL else ""
    return Sub(event.ts_ms, kind, sanitize(fields["plan"]) if fields.get("plan") else "", reason)


def _add_orders(ledger: Ledger, events: Sequence[Event], ctx: Context) -> tuple[Ledger, list[Order]]:
    """The ledger with the batch's orders; a repeated order_id (within retention) changes nothing."""
    known = {fp for _, fp in ledger.orders}
    orders = list(ledger.orders)
    added: list[Order] = []
    for event in (e for e in events if e.type == "customer.order_placed"):
        fields = event.fields
        fp = order_fingerprint(str(fields["order_id"]))
        amount = fields["amount"]
        if fp in known or amount > MAX_ORDER_AMOUNT:
            continue
        known.add(fp)
        orders.append((event.ts_ms, fp))
        currency = ctx.labels.fold("currency", sanitize(fields["currency"]), ctx.now_ms)
        added.append(Order(event.ts_ms, currency, round(amount * MICROS)))
    lifetime = len(added) + ledger.lifetime_orders
    after = Ledger(ledger.prop, ledger.subs, ledger.base, ledger.active_now, tuple(sorted(orders)), lifetime)
    return after, added


def revise(events: Sequence[Event], before: Ledger, prop: str, ctx: Context) -> tuple[Ledger, list[Order]]:
    """The ledger after the batch's events (any order), compacted to the retention horizon."""
    horizon = ctx.now_ms - ctx.retention_ms
    subs = sorted([*before.subs, *(_sub_of(e) for e in events if e.type in KINDS)], key=lambda s: s.order)
    base, kept = compact(before.base, subs, horizon)
    orders = tuple(o for o in before.orders if o[0] > horizon)
    # the copies are built directly: dataclasses.replace inspects the fields on every call,
    # a third of a revision's time
    compacted = Ledger(prop, kept, base, before.active_now, orders, before.lifetime_orders)
    ledger, added = _add_orders(compacted, events, ctx)
    now = status(ledger.base, ledger.subs)
    active_now = None
    if now.active:
        active_now = (prop, ctx.labels.fold("plan", sanitize(now.plan or NO_PLAN), ctx.now_ms))
    after = Ledger(ledger.prop, ledger.subs, ledger.base, active_now, ledger.orders, ledger.lifetime_orders)
    return after, added


def _transition_changes(ledger: Ledger, sign: int, changes: Changes) -> None:
    if ledger.prop is None:
        return
    for t in transitions(ledger.base, ledger.subs):
        name = field_name(t.code, ledger.prop, t.reason) if t.reason else field_name(t.code, ledger.prop)
        changes.count(t.ts_ms, name, sign)


def _order_changes(
    before: Ledger, after: Ledger, added: Sequence[Order], member: str, changes: Changes
) -> None:
    """Revenue and orders at each new order; buyers and repeat buyers (HyperLogLog).

    Once the customer has 2 lifetime orders, every order of it within retention marks a repeat
    buyer in its bucket (adds are idempotent, so only new orders need it afterwards).
    """
    prop = after.prop or ""
    for ts_ms, currency, micros in added:
        changes.count(ts_ms, field_name("rev", prop, currency), micros)
        changes.count(ts_ms, field_name("ord", prop, currency))
        changes.unique(ts_ms, field_name("buyers", prop), member)
    if after.lifetime_orders < 2 or not added:
        return
    new_ts = {order.ts_ms for order in added}
    for ts_ms, _ in after.orders:
        if before.lifetime_orders < 2 or ts_ms in new_ts:
            changes.unique(ts_ms, field_name("repeat", prop), member)


def apply_ledger(
    key: str, events: Sequence[Event], raw: bytes | None, prop: str, ctx: Context, changes: Changes
) -> None:
    """Revise one customer's ledger with the batch's events and record what changed."""
    before = Ledger.load(raw)
    after, added = revise(events, before, prop, ctx)
    _transition_changes(before, -1, changes)
    _transition_changes(after, +1, changes)
    if before.active_now != after.active_now:
        if before.active_now:
            changes.total(field_name("act_now", *before.active_now), -1)
        if after.active_now:
            changes.total(field_name("act_now", *after.active_now), +1)
    _order_changes(before, after, added, key, changes)
    changes.put_state(key, after.dump(), NEVER_MS)
