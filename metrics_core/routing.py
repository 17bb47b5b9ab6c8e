"""Which partition owns an event: its routing key, hashed as Kafka's default partitioner does.

State follows partition ownership (DESIGN §1): every entity (session, visitor, message,
response, customer) is owned by exactly one partition. An event that arrives on another
partition (unkeyed, or keyed otherwise) is forwarded through `<topic>.repartition`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from functools import lru_cache

from metrics_core.events.model import Event

# The id that orders each entity: by type where a type says, else by family; the first field
# present wins, else the event_id (stateless events spread evenly: no hot key).
_BY_FAMILY: Mapping[str, tuple[str, ...]] = {
    "clickstream": ("session_id", "anonymous_id", "user_id"),
    "email": ("message_id",),
    "survey": ("response_id",),
    "social": ("conversation_id",),
    "customer": ("customer_id", "ticket_id", "attendee_id"),
}
_BY_TYPE: Mapping[str, tuple[str, ...]] = {
    "social.followers": ("platform",),  # a platform's snapshots form one series
}


def _key_fields(event_type: str) -> tuple[str, ...]:
    return _BY_TYPE.get(event_type) or _BY_FAMILY.get(event_type.partition(".")[0], ())


_KEY_FIELDS: dict[str, tuple[str, ...]] = {}  # type -> its key fields, filled as types are seen


def routing_key(event: Event) -> str:
    """The key a producer should send this event with.

    >>> from metrics_core.events.model import Event
    >>> routing_key(Event("e1", "clickstream.page_view", 0, "default", {"page": "/", "anonymous_id": "a1"}))
    'a1'
    """
    names = _KEY_FIELDS.get(event.type)
    if names is None:
        names = _KEY_FIELDS[event.type] = _key_fields(event.type)
    fields = event.fields
    for name in names:
        value = fields.get(name)
        if value:
            return str(value)
    return event.event_id


_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (Java `Utils.murmur2`), unsigned: the same value as aiokafka's, twice as fast.

    >>> murmur2(b"21"), murmur2(b"foobar")
    (3321034988, 3504634814)
    """
    length = len(data)
    h = 0x9747B28C ^ length
    for k in struct.unpack_from(f"<{length >> 2}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail:
        base = length - tail
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


@lru_cache(maxsize=262_144)
def _hash(key: str) -> int:
    return murmur2(key.encode()) & 0x7FFFFFFF


def partition_for(key: str, partitions: int) -> int:
    """Kafka's default (Java, aiokafka) partition for a key: murmur2 & 0x7fffffff mod n."""
    return _hash(key) % partitions


def owner(event: Event, partitions: int, key_of: Callable[[Event], str] = routing_key) -> int:
    return partition_for(key_of(event), partitions)
