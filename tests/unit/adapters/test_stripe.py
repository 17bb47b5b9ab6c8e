"""Stripe events → customer events, on payloads shaped like Stripe's documented examples."""

from __future__ import annotations

import copy

import pytest

from metrics_core.adapters import AdapterError, Options
from metrics_core.adapters.stripe import adapt, amount
from tests.unit.adapters.vendors import load, validated


def one(name: str) -> dict[str, object]:
    result = adapt(load(name), Options())
    (event,) = result.events
    validated(result)
    return event


def test_subscription_created() -> None:
    assert one("stripe_subscription_created") == {
        "event_id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "type": "customer.subscription_started",
        "timestamp": 1686089970,
        "property": "default",
        "customer_id": "cus_O2D5ZYrxXrM5hd",
        "plan": "price_1NG8Dt2eZvKYlo2C1Zz0uaL4",
    }


def test_subscription_deleted_for_a_failed_payment_is_involuntary() -> None:
    event = one("stripe_subscription_deleted")
    assert (event["type"], event["reason"], event["customer_id"]) == (
        "customer.subscription_cancelled",
        "involuntary",
        "cus_O2D5ZYrxXrM5hd",
    )


@pytest.mark.parametrize("reason", ["cancellation_requested", None, "payment_disputed"])
def test_other_cancellations_are_voluntary(reason: str | None) -> None:
    payload = load("stripe_subscription_deleted")
    payload["data"]["object"]["cancellation_details"]["reason"] = reason
    assert adapt(payload, Options()).events[0]["reason"] == "voluntary"


def test_plan_falls_back_to_the_legacy_plan_field() -> None:
    payload = load("stripe_subscription_created")
    payload["data"]["object"]["items"]["data"] = []
    assert adapt(payload, Options()).events[0]["plan"] == "price_1NG8Dt2eZvKYlo2C1Zz0uaL4"


@pytest.mark.parametrize("before", ["past_due", "canceled", "paused"])
def test_back_to_active_is_a_reactivation(before: str) -> None:
    payload = load("stripe_subscription_updated")
    payload["data"]["previous_attributes"]["status"] = before
    (event,) = adapt(payload, Options()).events
    assert event["type"] == "customer.subscription_reactivated"
    assert (event["customer_id"], event["plan"]) == ("cus_PoZ8s9T0uV1wXy", "price_1OzA0Z2eZvKYlo2CproTeam")


def test_other_updates_are_tallied() -> None:
    plan_change = load("stripe_subscription_updated")
    plan_change["data"]["previous_attributes"] = {"items": {}}
    going_past_due = copy.deepcopy(load("stripe_subscription_updated"))
    going_past_due["data"]["object"]["status"] = "past_due"
    going_past_due["data"]["previous_attributes"] = {"status": "active"}
    for payload in (plan_change, going_past_due):
        result = adapt(payload, Options())
        assert (result.events, dict(result.ignored)) == ([], {"customer.subscription.updated": 1})


def test_invoice_paid_is_an_order_in_major_units() -> None:
    event = one("stripe_invoice_paid")
    assert event == {
        "event_id": "evt_1NG8Dv2eZvKYlo2CRyB1Gq9t",
        "type": "customer.order_placed",
        "timestamp": 1686089972,
        "property": "default",
        "order_id": "in_1NG8Du2eZvKYlo2CdsnbNhSb",
        "customer_id": "cus_O2D5ZYrxXrM5hd",
        "amount": 15.0,
        "currency": "USD",
    }


def test_a_zero_invoice_is_no_order() -> None:
    payload = load("stripe_invoice_paid")
    payload["data"]["object"]["amount_paid"] = 0
    assert dict(adapt(payload, Options()).ignored) == {"invoice.paid.zero_amount": 1}


def test_a_charge_without_invoice_is_an_order() -> None:
    event = one("stripe_charge_succeeded")
    assert (event["order_id"], event["customer_id"], event["amount"], event["currency"]) == (
        "ch_3MmlLrLkdIwHu7ix0snN0B15",
        "cus_NXsMcSsyS6BjLz",
        10.99,
        "USD",
    )


def test_a_charge_of_an_invoice_is_counted_by_the_invoice_only() -> None:
    payload = load("stripe_charge_succeeded")
    payload["data"]["object"]["invoice"] = "in_1NG8Du2eZvKYlo2CdsnbNhSb"
    result = adapt(payload, Options())
    assert (result.events, dict(result.ignored)) == ([], {"charge.succeeded.invoiced": 1})


def test_a_guest_charge_is_its_own_customer() -> None:
    payload = load("stripe_charge_succeeded")
    payload["data"]["object"]["customer"] = None
    assert adapt(payload, Options()).events[0]["customer_id"] == "guest:ch_3MmlLrLkdIwHu7ix0snN0B15"


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [(1099, "USD", 10.99), (1099, "JPY", 1099), (5000, "KRW", 5000), (1500, "KWD", 1.5), (7, "EUR", 0.07)],
)
def test_amounts(minor: int, currency: str, major: float) -> None:
    assert amount(minor, currency) == pytest.approx(major)


def test_a_zero_decimal_charge() -> None:
    payload = load("stripe_charge_succeeded")
    payload["data"]["object"].update(amount=500, currency="jpy")
    event = adapt(payload, Options()).events[0]
    assert (event["amount"], event["currency"]) == (500, "JPY")


def test_unknown_event_types_are_tallied() -> None:
    result = adapt(load("stripe_customer_created"), Options())
    assert (result.events, dict(result.ignored)) == ([], {"customer.created": 1})


def test_a_broken_object_is_left_for_validation_to_name() -> None:
    payload = load("stripe_invoice_paid")
    payload["data"] = "oops"
    (event,) = adapt(payload, Options()).events
    assert "customer_id" not in event and event["type"] == "customer.order_placed"


@pytest.mark.parametrize("payload", [[], "evt", {"id": "evt_1"}, {"type": 3}])
def test_not_an_event_is_refused(payload: object) -> None:
    with pytest.raises(AdapterError, match="stripe"):
        adapt(payload, Options())
