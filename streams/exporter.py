"""`pulse exporter`: serve /metrics from Redis through the custom collector, and its health.

GET /metrics  the scrape;  GET /healthz  200 when Redis answers, else 503 (readiness);
GET /livez  200 while the HTTP server serves (liveness: a Redis outage is no reason to restart).
"""

from __future__ import annotations

import gc
import signal
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from metrics_core.exposition.collector import PulseCollector
from metrics_core.settings import Settings
from metrics_core.store.redis_reader import RedisReader
from metrics_core.store.redis_store import namespace

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def build_registry(settings: Settings, reader: RedisReader | None = None) -> CollectorRegistry:
    """A registry holding only Pulse's collector (no process or GC metrics)."""
    assert settings.redis_url, "the exporter needs PULSE_REDIS_URL"
    registry = CollectorRegistry(auto_describe=False)
    reader = reader or RedisReader(settings.redis_url, namespace(settings.topic_prefix))
    registry.register(
        PulseCollector(reader, settings.window_list, settings.topic, label_cap=settings.label_cap)
    )
    return registry


def make_app(registry: CollectorRegistry, redis_answers: Callable[[], bool]) -> WSGIApp:
    """/healthz and /livez by path; every other path is the scrape, as prometheus_client serves it."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/livez":
            return _plain(start_response, "200 OK", b"ok\n")
        if path == "/healthz":
            if redis_answers():
                return _plain(start_response, "200 OK", b"ok\n")
            return _plain(start_response, "503 Service Unavailable", b"redis does not answer\n")
        return metrics(environ, start_response)  # type: ignore[no-any-return]

    return app


def _plain(start_response: Callable[..., Any], status: str, body: bytes) -> list[bytes]:
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per scrape and probe would drown the log


def serve(app: WSGIApp, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Serve `app` from a daemon thread (IPv6 when `host` is an IPv6 address)."""

    class Server(ThreadingWSGIServer):
        address_family = socket.getaddrinfo(host or "0.0.0.0", port, type=socket.SOCK_STREAM)[0][0]

    server = make_server(host, port, app, Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="pulse-exporter", daemon=True)
    thread.start()
    return server, thread


def run_exporter(settings: Settings) -> None:
    """Blocks until SIGTERM or SIGINT."""
    assert settings.redis_url, "the exporter needs PULSE_REDIS_URL"
    reader = RedisReader(settings.redis_url, namespace(settings.topic_prefix))
    server, thread = serve(
        make_app(build_registry(settings, reader), reader.ping),
        settings.exporter_host,
        settings.exporter_port,
    )
    print(f"pulse exporter: http://{settings.exporter_host}:{server.server_port}/metrics", flush=True)
    # What startup made lives as long as the process: keep the collector out of walking it
    # again and again (a 10k-series scrape allocates enough to trigger full collections).
    gc.freeze()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    thread.join(timeout=5)
