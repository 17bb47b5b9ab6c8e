"""Stripe webhook events → native `customer.*` events (subscriptions and orders)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from metrics_core.adapters.base import AdapterError, AdapterResult, NativeEvent, Options, compact, dig, first
from metrics_core.events.decode import describe

# Stripe amounts are integers in the currency's smallest unit. Most currencies have two
# decimals; these have none or three (https://docs.stripe.com/currencies#special-cases).
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA"}
    | {"PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

# A subscription that becomes active again from one of these states was reactivated.
_LAPSED = frozenset({"canceled", "paused", "past_due"})

# (native type, fields) from `data.object` (and the whole event, for `previous_attributes`),
# or, for an event acknowledged without a native event, the kind it is tallied under.
_Mapped = tuple[str, NativeEvent] | str
_Mapper = Callable[[Mapping[str, Any], Mapping[str, Any]], _Mapped]


def _id(value: object) -> object:
    """An id field that Stripe may send expanded (an object with `id`) or as the id itself."""
    return dig(value, "id") if isinstance(value, dict) else value


def _plan(subscription: Mapping[str, Any]) -> object:
    items = dig(subscription, "items", "data")
    item = items[0] if isinstance(items, list) and items else None
    return first(dig(item, "price", "id"), dig(subscription, "plan", "id"))


def _started(sub: Mapping[str, Any], event: Mapping[str, Any]) -> tuple[str, NativeEvent]:
    return "customer.subscription_started", {"customer_id": _id(sub.get("customer")), "plan": _plan(sub)}


def _cancelled(sub: Mapping[str, Any], event: Mapping[str, Any]) -> tuple[str, NativeEvent]:
    failed = dig(sub, "cancellation_details", "reason") == "payment_failed"
    fields = {
        "customer_id": _id(sub.get("customer")),
        "plan": _plan(sub),
        "reason": "involuntary" if failed else "voluntary",
    }
    return "customer.subscription_cancelled", fields


def _updated(sub: Mapping[str, Any], event: Mapping[str, Any]) -> _Mapped:
    before = dig(event, "data", "previous_attributes", "status")
    if sub.get("status") != "active" or not isinstance(before, str) or before not in _LAPSED:
        return "customer.subscription.updated"  # a plan change, a renewal, ...: no lifecycle step
    return "customer.subscription_reactivated", {"customer_id": _id(sub.get("customer")), "plan": _plan(sub)}


def _invoice_paid(invoice: Mapping[str, Any], event: Mapping[str, Any]) -> _Mapped:
    if invoice.get("amount_paid") == 0:
        return "invoice.paid.zero_amount"  # a trial or a 100 % coupon is no order
    return "customer.order_placed", _order(invoice, invoice.get("amount_paid"), _id(invoice.get("customer")))


def _charge_succeeded(charge: Mapping[str, Any], event: Mapping[str, Any]) -> _Mapped:
    if charge.get("invoice"):
        return "charge.succeeded.invoiced"  # counted by its invoice.paid: one order, not two
    # a guest checkout has no customer: the charge stands for its own one-time customer
    customer = _id(charge.get("customer")) or f"guest:{charge.get('id')}"
    return "customer.order_placed", _order(charge, charge.get("amount"), customer)


def _order(obj: Mapping[str, Any], minor_units: object, customer: object) -> NativeEvent:
    currency = obj.get("currency")
    code = currency.upper() if isinstance(currency, str) else currency
    return {
        "order_id": obj.get("id"),
        "customer_id": customer,
        "amount": amount(minor_units, code),
        "currency": code,
    }


def amount(minor_units: object, currency: object) -> object:
    """Major units from Stripe's integer minor units; anything else is left for validation to refuse.

    >>> amount(1999, "USD"), amount(500, "JPY"), amount(1500, "KWD"), amount("12", "USD")
    (19.99, 500, 1.5, '12')
    """
    if isinstance(minor_units, bool) or not isinstance(minor_units, int):
        return minor_units
    if currency in ZERO_DECIMAL:
        return minor_units
    return minor_units / (1000 if currency in THREE_DECIMAL else 100)


_MAPPERS: dict[str, _Mapper] = {
    "customer.subscription.created": _started,
    "customer.subscription.deleted": _cancelled,
    "customer.subscription.updated": _updated,
    "invoice.paid": _invoice_paid,
    "charge.succeeded": _charge_succeeded,
}


def adapt(payload: object, options: Options) -> AdapterResult:
    """Map one Stripe event; other event types, and the cases above that add no order, are tallied.

    >>> adapt({"id": "evt_1", "type": "invoice.paid", "created": 1686089970, "data": {"object": {
    ...     "id": "in_1", "customer": "cus_1", "amount_paid": 2000, "currency": "eur"}}}, Options()).events
    [{'event_id': 'evt_1', 'type': 'customer.order_placed', 'timestamp': 1686089970, \
'property': 'default', 'order_id': 'in_1', 'customer_id': 'cus_1', 'amount': 20.0, 'currency': 'EUR'}]
    """
    kind = dig(payload, "type")
    if not isinstance(payload, dict) or not isinstance(kind, str):
        raise AdapterError(f"stripe: expected an event object with a string 'type', got {describe(payload)}")
    result = AdapterResult()
    mapper = _MAPPERS.get(kind)
    if mapper is None:
        result.ignore(kind)
        return result
    obj = dig(payload, "data", "object")
    mapped = mapper(obj if isinstance(obj, dict) else {}, payload)  # {}: validation names what is missing
    if isinstance(mapped, str):
        result.ignore(mapped)
        return result
    event_type, fields = mapped
    common = {
        "event_id": payload.get("id"),
        "type": event_type,
        "timestamp": payload.get("created"),
        "property": options.property,
    }
    result.add(compact({**common, **fields}))
    return result
