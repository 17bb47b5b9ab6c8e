"""Customers: subscriptions and cancellations, orders in a few currencies, tickets, event attendance."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from streams.simulation.base import Choice, Generator, Pool, lognormal_ms

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
# what a customer does next; a cancellation's weight is multiplied by the scenario's cancel_factor
ACTIONS = {"start": 20.0, "cancel": 1.5, "reactivate": 1.5, "order": 40.0, "ticket": 15.0, "register": 15.0}
PLANS = Choice({"starter": 50, "pro": 35, "business": 15})
REASON = Choice({"voluntary": 70, "involuntary": 30})  # involuntary: failed payments
CURRENCY = Choice({"USD": 60, "EUR": 25, "GBP": 10, "JPY": 5})
ORDER_MEDIAN = {"USD": 45.0, "EUR": 40.0, "GBP": 35.0, "JPY": 6000.0}
BUYER = Choice({"repeat": 35, "subscriber": 40, "new": 25})
EVENTS = ("webinar-analytics-101", "product-launch-live", "customer-summit")
RESOLVED_SHARE = 0.9
ATTEND_SHARE = 0.6


class CustomerTraffic(Generator):
    """Sign-ups, cancellations (1.5 % of actions: a low churn), reactivations, orders, tickets, events.

    >>> import random
    >>> [e["type"] for e in CustomerTraffic(random.Random(3)).events(1_700_000_000_000, 3)]
    ['customer.subscription_started', 'customer.order_placed', 'customer.order_placed']
    """

    family = "customer"

    def __init__(
        self, rng: random.Random, properties: Sequence[str] = ("shop",), ids: random.Random | None = None
    ) -> None:
        super().__init__(rng, properties, ids)
        self.active: Pool[tuple[str, str, str]] = Pool()  # (property, customer id, plan)
        self.cancelled: Pool[tuple[str, str, str]] = Pool()
        self.buyers: Pool[tuple[str, str]] = Pool()  # (property, customer id)
        self._actions: dict[float, Choice[str]] = {}

    def _action(self) -> str:
        factor = self.scenario.cancel_factor
        choice = self._actions.get(factor)
        if choice is None:
            choice = self._actions[factor] = Choice({**ACTIONS, "cancel": ACTIONS["cancel"] * factor})
        action = choice.pick(self.rng)
        if (action == "cancel" and not self.active) or (action == "reactivate" and not self.cancelled):
            return "start"
        return action

    def _start(self, now_ms: int) -> None:
        action = self._action()
        if action == "start":
            prop, customer, plan = self.prop(), self.uid("cus"), PLANS.pick(self.rng)
            self.active.add((prop, customer, plan))
            self.emit(self.make("subscription_started", now_ms, prop, customer_id=customer, plan=plan))
        elif action == "cancel":
            prop, customer, plan = entry = self.active.take(self.rng)
            self.cancelled.add(entry)
            reason = REASON.pick(self.rng)
            self.emit(
                self.make(
                    "subscription_cancelled", now_ms, prop, customer_id=customer, plan=plan, reason=reason
                )
            )
        elif action == "reactivate":
            prop, customer, plan = entry = self.cancelled.take(self.rng)
            self.active.add(entry)
            self.emit(self.make("subscription_reactivated", now_ms, prop, customer_id=customer, plan=plan))
        elif action == "order":
            self._order(now_ms)
        elif action == "ticket":
            self._ticket(now_ms)
        else:
            self._registration(now_ms)

    def _order(self, now_ms: int) -> None:
        rng = self.rng
        buyer = BUYER.pick(rng)
        if buyer == "repeat" and self.buyers:
            prop, customer = self.buyers.pick(rng)
        elif buyer == "subscriber" and self.active:
            prop, customer, _ = self.active.pick(rng)
            self.buyers.add((prop, customer))
        else:
            prop, customer = self.prop(), self.uid("cus")
            self.buyers.add((prop, customer))
        currency = CURRENCY.pick(rng)
        amount = ORDER_MEDIAN[currency] * math.exp(rng.gauss(0.0, 0.7))
        amount = float(round(amount)) if currency == "JPY" else round(amount, 2)
        order = {"order_id": self.uid("ord", 64), "customer_id": customer, "amount": amount}
        self.emit(self.make("order_placed", now_ms, prop, currency=currency, **order))

    def _ticket(self, now_ms: int) -> None:
        rng, prop, ticket = self.rng, self.prop(), self.uid("tkt")
        self.emit(self.make("ticket_opened", now_ms, prop, ticket_id=ticket))
        if rng.random() < RESOLVED_SHARE:
            at_ms = now_ms + lognormal_ms(rng, 3 * HOUR_MS, 1.0, 48 * HOUR_MS)
            self.later(at_ms, self.make("ticket_resolved", at_ms, prop, ticket_id=ticket))

    def _registration(self, now_ms: int) -> None:
        rng, prop = self.rng, self.prop()
        who = {"event_name": rng.choice(EVENTS), "attendee_id": self.uid("att")}
        self.emit(self.make("event_registered", now_ms, prop, **who))
        if rng.random() < ATTEND_SHARE:
            at_ms = now_ms + lognormal_ms(rng, 30 * MINUTE_MS, 1.0, 6 * HOUR_MS)
            self.later(at_ms, self.make("event_attended", at_ms, prop, **who))
            for _ in range(rng.randint(0, 3)):
                then_ms = at_ms + rng.randint(MINUTE_MS, 45 * MINUTE_MS)
                self.later(then_ms, self.make("event_interaction", then_ms, prop, **who))
