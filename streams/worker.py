"""`pulse worker`: run the Faust app until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import gc
import logging

import faust
import redis.asyncio as aioredis

from metrics_core.errors import ConfigError
from metrics_core.settings import Settings
from metrics_core.store.redis_store import connect_async, namespace
from streams.app import create_app
from streams.kafka_admin import kafka_bootstrap
from streams.kafka_security import client_options, refusal
from streams.liveness import HEARTBEAT_EVERY_S, beat, current_group, worker_name

log = logging.getLogger(__name__)


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Blocks; Faust's worker installs the signal handlers and shuts down cleanly.

    Raises ConfigError naming the cause when the broker refuses the security settings: Faust
    would stop with aiokafka's "Unable to bootstrap" and a traceback, the cause in a log line.
    """
    assert settings.redis_url and settings.kafka_url
    bootstrap = kafka_bootstrap(settings.kafka_url)
    refused = asyncio.run(refusal(bootstrap, client_options(settings)))
    if refused is not None:
        raise ConfigError(f"Kafka at {bootstrap}: {refused}")
    ns = namespace(settings.topic_prefix)
    group = current_group(settings.redis_url, ns, settings.app_id)
    app = create_app(settings.model_copy(update={"app_id": group}))
    _heartbeat(app, settings.redis_url, ns)
    log.info("pulse worker: consumer group %s", group)
    collect_rarely()
    worker = _Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.spinner = None  # its animation floods logs that are not a terminal
    worker.execute_from_commandline()


# A batch keeps a few objects per event alive until its commit (decoded dicts, events, keys),
# so at the default gen-0 threshold (700) the collector ran several times per batch, each
# time walking the young objects, and now and then all of Faust's and aiokafka's.
GC_GEN0_THRESHOLD = 50_000


def collect_rarely() -> None:
    """Collect the young generation every 50 000 net allocations instead of every 700."""
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


class _Worker(faust.Worker):
    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        gc.freeze()  # what start-up made lives as long as the worker: no collection walks it


def _heartbeat(app: faust.App, redis_url: str, ns: str) -> None:
    client = connect_async(redis_url, socket_timeout=5)
    name = worker_name()

    @app.task  # type: ignore[untyped-decorator]  # faust ships no types
    async def heartbeat() -> None:
        while True:  # from the start, not one interval later: rebuild must see a starting worker
            try:
                await beat(client, ns, name)
            except (OSError, aioredis.RedisError) as exc:  # Redis away: the batch path retries, logs
                log.debug("heartbeat not written: %s", exc)
            await asyncio.sleep(HEARTBEAT_EVERY_S)
