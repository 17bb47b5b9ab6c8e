"""What the gateway tests share: a fake sink, the `make_client` fixture, a page view, a POST.

The gateway runs in process (aiohttp's TestServer) on a fixed clock, NOW_S. A module that
uses `make_client` imports it by name (`import make_client as make_client`), since pytest
finds fixtures only in the test module and conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, cast

import orjson
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from metrics_core.errors import BrokerUnavailable
from metrics_core.settings import Settings
from streams.gateway import build_app
from streams.producer import Message

NOW_S = 1_735_689_600
Client = TestClient[Any, Any]


class FakeSink:
    """Records what it is given; `down = True` makes it fail like an unreachable Kafka."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.down = False

    @property
    def connected(self) -> bool:
        return not self.down

    async def send(self, messages: Sequence[Message]) -> None:
        if self.down and messages:
            raise BrokerUnavailable("Kafka did not take 1 messages: connection refused")
        self.sent.extend(messages)

    async def close(self) -> None:
        pass

    def values(self) -> list[dict[str, Any]]:
        return [orjson.loads(cast(bytes, value)) for _, _, _, value, _ in self.sent]  # no tombstones


def settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"kafka_url": "kafka://127.0.0.1:1", "topic_prefix": "p."}
    return Settings(**{**base, **overrides})


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., Any]]:
    """`await make_client(**settings)` -> (client, sink, registry); all closed at teardown."""
    clients: list[Client] = []

    async def make(**overrides: Any) -> tuple[Client, FakeSink, CollectorRegistry]:
        sink, registry = FakeSink(), CollectorRegistry()
        app = build_app(settings(**overrides), sink, registry, clock=lambda: NOW_S)
        client: Client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client, sink, registry

    yield make
    for client in clients:
        await client.close()


def page_view(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "clickstream.page_view",
        "timestamp": NOW_S - 5,
        "page": "/pricing",
        "anonymous_id": "v1",
        **fields,
    }


async def post(
    client: Client, path: str, body: Any, content_type: str = "application/json", **headers: str
) -> tuple[int, Any, ClientResponse]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    response = await client.post(path, data=data, headers={"Content-Type": content_type, **headers})
    return response.status, await response.json(), response
