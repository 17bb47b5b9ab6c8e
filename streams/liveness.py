"""Which consumer group the workers use, and which workers are alive, both kept in Redis.

`pulse rebuild` bumps the group epoch after wiping derived state: workers started afterwards
join a fresh group (`<app_id>.r<epoch>`), which has no committed offsets, so they replay every
topic from its beginning — on any Kafka-compatible broker, with no offset surgery. Workers
write a heartbeat key with a short TTL, so a rebuild can refuse while any of them runs.
"""

from __future__ import annotations

import os
import socket

from metrics_core.store.redis_store import AsyncClient, connect

HEARTBEAT_TTL_S = 10
HEARTBEAT_EVERY_S = 3.0


def epoch_key(ns: str) -> str:
    return f"{ns}:epoch"


def group_id(app_id: str, epoch: int) -> str:
    """`pulse` at epoch 0, `pulse.r2` after two rebuilds."""
    return app_id if epoch == 0 else f"{app_id}.r{epoch}"


def current_group(redis_url: str, ns: str, app_id: str) -> str:
    client = connect(redis_url, socket_timeout=10)
    try:
        return group_id(app_id, int(client.get(epoch_key(ns)) or 0))
    finally:
        client.close()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def beat(client: AsyncClient, ns: str, name: str) -> None:
    """I am alive: a key that expires unless renewed."""
    await client.set(f"{ns}:worker:{name}", "1", ex=HEARTBEAT_TTL_S)


async def live_workers(client: AsyncClient, ns: str) -> list[str]:
    prefix = f"{ns}:worker:"
    return [key.decode().removeprefix(prefix) async for key in client.scan_iter(match=prefix + "*")]
