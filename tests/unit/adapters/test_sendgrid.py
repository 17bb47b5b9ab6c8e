"""SendGrid Event Webhook → email events, on a batch shaped like SendGrid's documented example."""

from __future__ import annotations

import hashlib

import pytest

from metrics_core.adapters import AdapterError, Options
from metrics_core.adapters.sendgrid import adapt
from tests.unit.adapters.vendors import load, validated

MESSAGE = "14c5d75ce93"


def sha(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


def by_id() -> dict[str, dict[str, object]]:
    result = adapt(load("sendgrid_events"), Options(property="shop"))
    return {event["event_id"]: event for event in result.events}


def test_every_documented_kind_maps_and_validates() -> None:
    result = adapt(load("sendgrid_events"), Options(property="shop"))
    events = validated(result)
    assert [e.type for e in events] == [
        "email.sent",
        "email.delivered",
        "email.opened",
        "email.opened",
        "email.clicked",
        "email.bounced",
        "email.bounced",
        "email.dropped",
        "email.spam_reported",
        "email.unsubscribed",
        "email.unsubscribed",
    ]
    assert {e.property for e in events} == {"shop"}
    # deferred (a soft bounce, retried by SendGrid), a bounce with no message id, and a kind
    # Pulse does not count are acknowledged and tallied
    assert dict(result.ignored) == {"deferred": 1, "bounce.no_message_id": 1, "group_resubscribe": 1}
    # origins point into the vendor's array (items 1, 8 and 13 were ignored)
    assert result.origins == [0, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12]


def test_common_fields_keep_the_vendor_ids() -> None:
    delivered = by_id()["ZwY1j8hnL9_VZ0u7Q1WpmA"]
    assert delivered == {
        "event_id": "ZwY1j8hnL9_VZ0u7Q1WpmA",  # sg_event_id: SendGrid's retries de-duplicate
        "type": "email.delivered",
        "timestamp": 1513299569,
        "property": "shop",
        "message_id": MESSAGE,  # sg_message_id up to the first "."
        "campaign_id": "cat facts",  # the first category
        "recipient_id": sha("example@test.com"),
    }


def test_the_address_is_never_carried() -> None:
    for event in adapt(load("sendgrid_events"), Options()).events:
        assert not any("@" in str(value) for value in event.values()), event


def test_recipient_is_the_hash_of_the_lowercased_address() -> None:
    item = {"event": "processed", "sg_event_id": "e", "sg_message_id": "m", "timestamp": 1, "email": "A@B.io"}
    assert adapt([item], Options()).events[0]["recipient_id"] == sha("a@b.io")


def test_opens_carry_the_machine_flag_and_clicks_are_never_bots() -> None:
    events = by_id()
    assert events["FOTFFO0ecsBE-zxFXfs6WA"]["machine"] is False
    assert events["Qn3dm0BFT3G0Xo9k1Xa2uQ"]["machine"] is True
    click = events["kCAi1KttyQdEKHhdC-nuEA"]
    assert (click["type"], click["url"], click["bot"]) == ("email.clicked", "http://www.sendgrid.com/", False)


def test_bounce_types() -> None:
    events = by_id()
    assert events["6g4ZI7SA-xmRDv57GoPIPw"]["bounce_type"] == "hard"
    assert events["4Bd3Wz8ZQ4aX6hB3zCq1sA"]["bounce_type"] == "blocked"
    assert events["6g4ZI7SA-xmRDv57GoPIPw"]["message_id"] == "14c5d75ce94"


def test_unsubscribe_scopes_and_campaign_custom_arg() -> None:
    events = by_id()
    assert events["zz_BjPgU_5pS-J8vlfB1sg"]["scope"] == "global"
    assert events["zz_BjPgU_5pS-J8vlfB1sg"]["campaign_id"] == "spring-sale"  # custom arg wins
    assert events["ahSCB7xYcXFb-hEaawsPRw"]["scope"] == "group"


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"campaign_id": "c1", "category": "cat"}, "c1"),
        ({"campaign_id": 42}, "42"),
        ({"category": ["", "b", "c"]}, "b"),
        ({"category": "solo"}, "solo"),
        ({"category": []}, "none"),
        ({}, "none"),
    ],
)
def test_campaign_choice(item: dict[str, object], expected: str) -> None:
    event = {"event": "delivered", "sg_event_id": "e", "sg_message_id": "m.x", "timestamp": 1, **item}
    assert adapt([event], Options()).events[0]["campaign_id"] == expected


def test_bad_items_go_on_to_validation() -> None:
    result = adapt([7, {"event": "delivered", "timestamp": 1}], Options())
    assert result.events[0] == 7  # not an object: validation rejects it (not_an_object)
    assert "event_id" not in result.events[1]  # missing sg_event_id: validation names it
    assert result.origins == [0, 1]


def test_unknown_and_missing_kinds_are_tallied() -> None:
    result = adapt([{"event": "new_kind"}, {}, {"event": ["x"]}], Options())
    assert result.events == []
    assert dict(result.ignored) == {"new_kind": 1, "missing": 1, "list": 1}


def test_an_object_body_is_refused() -> None:
    with pytest.raises(AdapterError, match="expected a JSON array"):
        adapt({"event": "delivered"}, Options())
