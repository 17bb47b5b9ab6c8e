"""Kafka admin: bootstrap parsing, idempotent topic creation, partition counts, topic identity."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError, for_code
from aiokafka.protocol.api import RequestStruct, Response
from aiokafka.protocol.metadata import MetadataRequest
from aiokafka.protocol.types import (
    Boolean,
    CompactArray,
    CompactString,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from metrics_core.errors import BrokerUnavailable, ConfigError
from streams.kafka_security import PLAINTEXT, KafkaOptions, refusal

CLIENT_ID = "pulse-admin"
_NO_ERROR, _UNKNOWN_TOPIC, _TOPIC_EXISTS = 0, 3, 36
_POLL_S = 0.1


def kafka_bootstrap(url: str) -> str:
    """Bootstrap servers for aiokafka from a Kafka URL.

    >>> kafka_bootstrap("kafka://h1:9092,h2:9092")
    'h1:9092,h2:9092'
    >>> kafka_bootstrap("127.0.0.1:9092")
    '127.0.0.1:9092'
    """
    hosts = []
    for item in url.replace(";", ",").split(","):
        host = item.strip().removeprefix("kafka://").rstrip("/")
        if host:
            hosts.append(host if ":" in host else f"{host}:9092")
    if not hosts:
        raise ConfigError(f"no Kafka broker in {url!r}; expected e.g. kafka://127.0.0.1:9092")
    return ",".join(hosts)


# --- Metadata v10/v12: the versions that carry topic ids (KIP-516); aiokafka stops at v5.


class _Uuid:
    """Kafka's UUID field: 16 raw bytes, all zero when the broker has no id."""

    @staticmethod
    def encode(value: uuid.UUID) -> bytes:
        return value.bytes

    @staticmethod
    def decode(data: BytesIO) -> uuid.UUID:
        raw = data.read(16)
        if len(raw) != 16:
            raise ValueError("Buffer underrun decoding UUID")
        return uuid.UUID(bytes=raw)

    @staticmethod
    def repr(value: uuid.UUID) -> str:
        return str(value)


_NO_ID = uuid.UUID(int=0)
_BROKER = (
    ("node_id", Int32),
    ("host", CompactString("utf-8")),
    ("port", Int32),
    ("rack", CompactString("utf-8")),
    ("tags", TaggedFields),
)
_PARTITION = (
    ("error_code", Int16),
    ("partition", Int32),
    ("leader", Int32),
    ("leader_epoch", Int32),
    ("replicas", CompactArray(Int32)),
    ("isr", CompactArray(Int32)),
    ("offline_replicas", CompactArray(Int32)),
    ("tags", TaggedFields),
)
_TOPIC = (
    ("error_code", Int16),
    ("topic", CompactString("utf-8")),
    ("topic_id", _Uuid),
    ("is_internal", Boolean),
    ("partitions", CompactArray(*_PARTITION)),
    ("topic_authorized_operations", Int32),
    ("tags", TaggedFields),
)
_HEAD = (
    ("throttle_time_ms", Int32),
    ("brokers", CompactArray(*_BROKER)),
    ("cluster_id", CompactString("utf-8")),
    ("controller_id", Int32),
    ("topics", CompactArray(*_TOPIC)),
)
_REQUEST_TOPIC = CompactArray(("topic_id", _Uuid), ("name", CompactString("utf-8")), ("tags", TaggedFields))


class _MetadataResponseV10(Response):  # type: ignore[misc]  # aiokafka ships no types
    API_KEY = 3
    API_VERSION = 10
    SCHEMA = Schema(*_HEAD, ("cluster_authorized_operations", Int32), ("tags", TaggedFields))


class _MetadataResponseV12(Response):  # type: ignore[misc]  # aiokafka ships no types
    API_KEY = 3
    API_VERSION = 12
    SCHEMA = Schema(*_HEAD, ("tags", TaggedFields))


class _MetadataRequestV10(RequestStruct):  # type: ignore[misc]  # aiokafka ships no types
    API_KEY = 3
    API_VERSION = 10
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = _MetadataResponseV10
    SCHEMA = Schema(
        ("topics", _REQUEST_TOPIC),
        ("allow_auto_topic_creation", Boolean),
        ("include_cluster_authorized_operations", Boolean),
        ("include_topic_authorized_operations", Boolean),
        ("tags", TaggedFields),
    )


class _MetadataRequestV12(RequestStruct):  # type: ignore[misc]  # aiokafka ships no types
    API_KEY = 3
    API_VERSION = 12
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = _MetadataResponseV12
    SCHEMA = Schema(
        ("topics", _REQUEST_TOPIC),
        ("allow_auto_topic_creation", Boolean),
        ("include_topic_authorized_operations", Boolean),
        ("tags", TaggedFields),
    )


class _TopicMetadata:
    """A Metadata request at the newest version both sides know; never auto-creates topics.

    It quacks like aiokafka's `Request`: the connection calls `prepare(versions)`.
    """

    API_KEY = 3

    def __init__(self, topics: Sequence[str]) -> None:
        self.topics = list(topics)

    def prepare(self, versions: Mapping[int, tuple[int, int]]) -> Any:
        high = versions.get(self.API_KEY, (0, 0))[1]
        wanted: list[tuple[uuid.UUID, str, dict[int, bytes]]] = [(_NO_ID, name, {}) for name in self.topics]
        if high >= 12:
            return _MetadataRequestV12(wanted, False, False, {})
        if high >= 10:
            return _MetadataRequestV10(wanted, False, False, False, {})
        return MetadataRequest(self.topics, allow_auto_topic_creation=False).prepare(versions)


@dataclass(frozen=True)
class TopicMeta:
    """What the broker says about one topic: partitions is 0 when it does not exist."""

    name: str
    partitions: int
    topic_id: str | None


@dataclass(frozen=True)
class ClusterMeta:
    cluster_id: str
    topics: dict[str, TopicMeta]


def _topic_meta(entry: Mapping[str, Any]) -> TopicMeta:
    topic_id = entry.get("topic_id")
    exists = entry["error_code"] == _NO_ERROR
    return TopicMeta(
        name=entry["topic"],
        partitions=len(entry["partitions"]) if exists else 0,
        topic_id=str(topic_id) if exists and topic_id not in (None, _NO_ID) else None,
    )


async def broker_error(
    bootstrap: str, security: KafkaOptions, exc: BaseException
) -> ConfigError | BrokerUnavailable:
    """The error for a failed connection: ConfigError naming the cause when the broker refused
    the security settings (not retriable), else BrokerUnavailable (retriable)."""
    why = await refusal(bootstrap, security)
    if why is not None:
        return ConfigError(f"Kafka at {bootstrap}: {why}")
    return BrokerUnavailable(
        f"Kafka at {bootstrap} did not answer: {exc!r}; is the broker up and the URL right?"
    )


@asynccontextmanager
async def _broker_errors(bootstrap: str, security: KafkaOptions) -> AsyncIterator[None]:
    try:
        yield
    except (KafkaError, OSError, TimeoutError) as exc:
        raise await broker_error(bootstrap, security, exc) from exc


@asynccontextmanager
async def _client(bootstrap: str, security: KafkaOptions) -> AsyncIterator[AIOKafkaClient]:
    client = AIOKafkaClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID, **security)
    try:
        async with _broker_errors(bootstrap, security):
            await client.bootstrap()
            yield client
    finally:
        await client.close()


@asynccontextmanager
async def _admin(bootstrap: str, security: KafkaOptions) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=CLIENT_ID, **security)
    try:
        async with _broker_errors(bootstrap, security):
            await admin.start()
            yield admin
    finally:
        await admin.close()


async def _metadata(client: AIOKafkaClient, topics: Sequence[str]) -> ClusterMeta:
    response = await client.send(client.get_random_node(), _TopicMetadata(topics))
    obj = response.to_object()
    metas = [_topic_meta(entry) for entry in obj["topics"]]
    return ClusterMeta(obj.get("cluster_id") or "-", {m.name: m for m in metas})


async def cluster_metadata(
    bootstrap: str, topics: Sequence[str], security: KafkaOptions = PLAINTEXT
) -> ClusterMeta:
    """Cluster id and, per topic, partition count and topic id (if the broker has one).

    `security`: aiokafka's security arguments (streams/kafka_security.py: `client_options`),
    as every function here takes them.
    """
    async with _client(bootstrap, security) as client:
        return await _metadata(client, topics)


async def partition_counts(
    bootstrap: str, topics: Iterable[str], security: KafkaOptions = PLAINTEXT
) -> dict[str, int]:
    """Partitions per topic; 0 for a topic that does not exist (nothing is auto-created).

    >>> await partition_counts("127.0.0.1:9092", ["clickstream", "nope"])
    {'clickstream': 4, 'nope': 0}
    """
    wanted = list(topics)
    meta = await cluster_metadata(bootstrap, wanted, security)
    return {name: meta.topics[name].partitions if name in meta.topics else 0 for name in wanted}


def _raise_create_errors(response: Any) -> None:
    for topic, code, message in response.topic_errors:
        if code in (_NO_ERROR, _TOPIC_EXISTS):
            continue
        error = for_code(code)
        text = f"cannot create topic {topic!r}: {error.__name__} {message or ''}".strip()
        raise (BrokerUnavailable if error.retriable else ConfigError)(text)


async def _wait_for_partitions(
    client: AIOKafkaClient, wanted: Mapping[str, int], timeout_s: float
) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        meta = await _metadata(client, list(wanted))
        counts = {t: meta.topics[t].partitions if t in meta.topics else 0 for t in wanted}
        if all(counts[t] >= n for t, n in wanted.items()):
            return counts
        if time.monotonic() >= deadline:
            late = {t: counts[t] for t, n in wanted.items() if counts[t] < n}
            raise BrokerUnavailable(f"topics not ready after {timeout_s:g} s (partitions: {late})")
        await asyncio.sleep(_POLL_S)


async def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    retention_ms: int | None = None,
    replication: int = 1,
    timeout_s: float = 30.0,
    security: KafkaOptions = PLAINTEXT,
) -> dict[str, int]:
    """Create the missing topics with the given partition counts; wait until metadata shows them.

    Idempotent. A topic that already exists keeps its partition count (the result reports
    the counts in force). `retention_ms` sets `retention.ms` on created topics.

    >>> await ensure_topics("127.0.0.1:9092", {"clickstream": 4, "clickstream.dlq": 1})
    {'clickstream': 4, 'clickstream.dlq': 1}
    """
    configs = {} if retention_ms is None else {"retention.ms": str(retention_ms)}
    async with _client(bootstrap, security) as client:
        meta = await _metadata(client, list(topics))
        exists = {name for name, m in meta.topics.items() if m.partitions > 0}
        missing = [
            NewTopic(name, count, replication, topic_configs=configs)
            for name, count in topics.items()
            if name not in exists
        ]
        if missing:
            async with _admin(bootstrap, security) as admin:
                _raise_create_errors(await admin.create_topics(missing))
        wanted = {name: 1 if name in exists else count for name, count in topics.items()}
        return await _wait_for_partitions(client, wanted, timeout_s)


async def delete_topics(bootstrap: str, topics: Iterable[str], security: KafkaOptions = PLAINTEXT) -> None:
    """Delete topics; one that does not exist is not an error."""
    async with _admin(bootstrap, security) as admin:
        response = await admin.delete_topics(list(topics))
    for topic, code in response.topic_error_codes:
        if code not in (_NO_ERROR, _UNKNOWN_TOPIC):
            raise BrokerUnavailable(f"cannot delete topic {topic!r}: {for_code(code).__name__}")


async def topic_identities(
    bootstrap: str, topics: Iterable[str], security: KafkaOptions = PLAINTEXT
) -> dict[str, str]:
    """`topic_identity` for several topics in one request."""
    wanted = list(topics)
    meta = await cluster_metadata(bootstrap, wanted, security)
    identities = {}
    for name in wanted:
        topic = meta.topics.get(name)
        if topic is None or topic.partitions == 0:
            raise BrokerUnavailable(f"no topic {name!r} on {bootstrap}; create it first")
        parts = [meta.cluster_id, name] + ([topic.topic_id] if topic.topic_id else [])
        identities[name] = "/".join(parts)
    return identities


async def topic_identity(bootstrap: str, topic: str, security: KafkaOptions = PLAINTEXT) -> str:
    """A string naming *this instance* of `topic`, for fencing offsets (offsets restart at 0
    on a recreated topic or a fresh broker, which must not look like a replay).

    `"{cluster_id}/{topic}/{topic_id}"` where the broker answers Metadata v10+ with a topic
    id (KIP-516): Apache Kafka 2.8+, and Tansu 0.6 (the embedded broker), which also gets a
    fresh random cluster id on every start. Else `"{cluster_id}/{topic}"`: a fresh cluster is
    still told apart, a topic deleted and recreated on the same cluster is not.

    >>> await topic_identity("127.0.0.1:9092", "clickstream")
    'pulse-3e1bc317799a/clickstream/01a20241-a130-7a12-a570-566bb2225397'
    """
    return (await topic_identities(bootstrap, [topic], security))[topic]
