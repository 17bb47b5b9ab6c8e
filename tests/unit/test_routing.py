"""Routing: the entity key of each family, and Kafka's default partitioner."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from metrics_core.events.model import Event
from metrics_core.routing import murmur2, owner, partition_for, routing_key


def _event(event_type: str, **fields: object) -> Event:
    return Event("evt-1", event_type, 0, "default", fields)


@pytest.mark.parametrize(
    ("event", "key"),
    [
        # clickstream: session, else the device, else the user
        (_event("clickstream.page_view", page="/", session_id="s1", anonymous_id="a1"), "s1"),
        (_event("clickstream.page_view", page="/", anonymous_id="a1", user_id="u1"), "a1"),
        (_event("clickstream.feature_used", feature="f", user_id="u1"), "u1"),
        (_event("clickstream.click", placement="hero"), "evt-1"),  # nothing: the event id
        (_event("email.opened", message_id="m1", campaign_id="c1"), "m1"),
        (_event("survey.nps", response_id="r1", score=9), "r1"),
        (_event("social.reply", platform="x", conversation_id="cv1"), "cv1"),
        (_event("social.like", platform="x", count=1), "evt-1"),
        (_event("customer.ticket_opened", ticket_id="t1"), "t1"),
        (_event("customer.order_placed", order_id="o1", customer_id="cu1", amount=1), "cu1"),
    ],
)
def test_routing_key(event: Event, key: str) -> None:
    assert routing_key(event) == key


@pytest.mark.parametrize(
    ("key", "java_murmur2", "partition"),
    [
        # test vectors of Kafka's own UtilsTest.testMurmur2 (signed Java ints);
        # partition = (h & 0x7fffffff) % 4
        ("21", -973_932_308, 0),  # 2^31 - 973 932 308 = 1 173 551 340; % 4 = 0
        ("foobar", -790_332_482, 2),  # 2^31 - 790 332 482 = 1 357 151 166; % 4 = 2
        ("abc", 479_470_107, 3),  # 479 470 107 % 4 = 3
        ("a-little-bit-long-string", -985_981_536, 0),  # 1 161 502 112 % 4 = 0
    ],
)
def test_partition_for_matches_kafka(key: str, java_murmur2: int, partition: int) -> None:
    assert partition == (java_murmur2 & 0x7FFFFFFF) % 4
    assert partition_for(key, 4) == partition
    assert partition_for(key, 1) == 0


def test_owner_uses_the_routing_key() -> None:
    event = _event("clickstream.page_view", page="/", anonymous_id="foobar")
    assert owner(event, 4) == 2
    assert owner(event, 4, key_of=lambda e: "abc") == 3


@given(st.binary(max_size=64))
def test_murmur2_is_aiokafkas(data: bytes) -> None:
    assert murmur2(data) == aiokafka_murmur2(data) & 0xFFFFFFFF
