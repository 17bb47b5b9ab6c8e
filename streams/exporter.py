"""`pulse exporter`: serve /metrics from Redis through the custom collector."""

from __future__ import annotations

import signal
import threading

from prometheus_client import CollectorRegistry, start_http_server

from metrics_core.exposition.collector import PulseCollector
from metrics_core.settings import Settings
from metrics_core.store.redis_store import RedisReader, namespace


def build_registry(settings: Settings) -> CollectorRegistry:
    """A registry holding only Pulse's collector (no process or GC metrics)."""
    assert settings.redis_url, "the exporter needs PULSE_REDIS_URL"
    registry = CollectorRegistry(auto_describe=False)
    reader = RedisReader(settings.redis_url, namespace(settings.topic_prefix))
    registry.register(
        PulseCollector(reader, settings.window_list, settings.topic, label_cap=settings.label_cap)
    )
    return registry


def run_exporter(settings: Settings) -> None:
    """Blocks until SIGTERM or SIGINT."""
    registry = build_registry(settings)
    server, thread = start_http_server(settings.exporter_port, settings.exporter_host, registry)
    print(f"pulse exporter: http://{settings.exporter_host}:{server.server_port}/metrics", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    thread.join(timeout=5)
