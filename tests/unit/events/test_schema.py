"""The schema table matches DESIGN §3 and is internally consistent."""

from __future__ import annotations

import pytest

from metrics_core.events import FAMILIES, TYPES
from metrics_core.events.schema import MAX_SAFE_NUMBER, family_of
from tests.unit.events.examples import EXAMPLES

# DESIGN §3, with the "/" shorthand rows written out
DESIGN_TYPES = {
    "clickstream": "page_view impression click conversion feature_used",
    "email": "sent delivered dropped spam_reported bounced opened clicked unsubscribed converted",
    "social": "impression like unlike comment share save click mention follow unfollow "
    "followers inbound_message reply",
    "survey": "nps csat ces",
    "customer": "subscription_started subscription_reactivated subscription_cancelled "
    "order_placed ticket_opened ticket_resolved event_registered event_attended "
    "event_interaction",
}


def test_table_has_exactly_the_types_of_design() -> None:
    expected = {f"{family}.{name}" for family, names in DESIGN_TYPES.items() for name in names.split()}
    assert set(TYPES) == expected
    assert len(TYPES) == 39


def test_every_type_belongs_to_a_family() -> None:
    assert {family_of(name) for name in TYPES} == set(FAMILIES)


def test_examples_cover_every_type() -> None:
    assert set(EXAMPLES) == set(TYPES)


@pytest.mark.parametrize("event_type", sorted(TYPES))
def test_spec_is_consistent(event_type: str) -> None:
    spec = TYPES[event_type]
    names = [*spec.required, *spec.optional, *spec.one_of]
    assert len(names) == len(set(names)), "a field is listed twice"
    assert not {"event_id", "type", "timestamp", "property"} & set(names)
    for name, default in spec.defaults.items():
        assert name in spec.optional, f"default for {name} which is not optional"
        assert spec.optional[name].check(default) is None, f"default {default!r} is invalid"


COUNTED = {f"social.{name}" for name in DESIGN_TYPES["social"].split()[:7]} | {
    "social.follow",
    "social.unfollow",
}


@pytest.mark.parametrize("event_type", sorted(TYPES))
def test_count_defaults_to_one_exactly_where_it_is_taken(event_type: str) -> None:
    spec = TYPES[event_type]
    with_count = event_type in COUNTED
    assert ("count" in spec.optional) is with_count
    assert (spec.defaults.get("count") == 1) is with_count


def test_the_other_defaults() -> None:
    assert TYPES["survey.csat"].defaults == {"scale_max": 5}
    assert TYPES["customer.order_placed"].defaults == {"currency": "USD"}
    assert sum(len(spec.defaults) for spec in TYPES.values()) == 9 + 2


def test_numbers_stay_exact_in_redis_doubles() -> None:
    assert float(MAX_SAFE_NUMBER) + 1 != float(MAX_SAFE_NUMBER)
    assert float(MAX_SAFE_NUMBER + 1) + 1 == float(MAX_SAFE_NUMBER + 1)
