"""`pulse gateway`: HTTP in (native events and vendor webhooks), Kafka out. Thin by design:
authenticate, limit, parse, adapt, validate with the worker's decoder, send, answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from metrics_core.adapters import ADAPTERS, AdapterError, Options
from metrics_core.errors import BrokerUnavailable
from metrics_core.settings import Settings
from streams.gateway_auth import Guard
from streams.gateway_intake import Intake, Refusal, answer, native_items, parse_json, validate
from streams.gateway_metrics import GatewayMetrics
from streams.gateway_sink import RETRY_AFTER_S, KafkaSink, Sink
from streams.kafka_security import client_options
from streams.producer import KafkaSender

log = logging.getLogger(__name__)

JSON = "application/json"
NDJSON = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Gateway:
    """The request handlers, over a sink, a metrics registry and a clock (all injected)."""

    def __init__(
        self,
        settings: Settings,
        sink: Sink,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.registry = registry
        self.metrics = GatewayMetrics(registry, kind_cap=min(settings.label_cap, 100))
        self.guard = Guard(settings)
        self.clock = clock
        self.options = Options(conversions=settings.segment_conversion_list)

    async def native(self, request: web.Request) -> web.Response:
        """POST /v1/events: one event, a JSON array of events, or NDJSON."""
        self.guard.native(request.headers)
        ndjson = _content_kind(request, allow_ndjson=True)
        body = await self._body(request)
        intake = validate(native_items(body, ndjson), self.settings, self._now_ms())
        return await self._deliver("events", intake, {})

    async def webhook(self, vendor: str, request: web.Request) -> web.Response:
        """POST /v1/webhooks/<vendor>: verify, map onto native events, then as native events."""
        _content_kind(request, allow_ndjson=False)
        body = await self._body(request)
        self.guard.webhook(vendor, request.headers, request.query, body, self.clock())
        payload = parse_json(body)
        options = Options(request.query.get("property") or "default", self.options.conversions)
        try:
            result = ADAPTERS[vendor](payload, options)
        except AdapterError as exc:
            raise Refusal(400, "unexpected_payload", str(exc)) from None
        intake = validate(zip(result.origins, result.events, strict=True), self.settings, self._now_ms())
        return await self._deliver(vendor, intake, result.ignored)

    async def _deliver(self, route: str, intake: Intake, ignored: dict[str, int]) -> web.Response:
        try:
            await self.sink.send(intake.messages)
        except BrokerUnavailable as exc:
            log.warning("%s: answering 503: %s", route, exc)  # the details stay in the log: they name brokers
            raise Refusal(
                503, "kafka_unavailable", "Kafka is unavailable; nothing was accepted, retry later"
            ) from None
        status, body = answer(intake, ignored)
        self.metrics.outcome(route, len(intake.messages), len(intake.rejected), ignored)
        return _json(status, body)

    async def _body(self, request: web.Request) -> bytes:
        limit = self.settings.gateway_max_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _too_large(limit)
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _too_large(limit) from None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    async def healthz(self, request: web.Request) -> web.Response:
        return _json(200, {"status": "ok", "kafka": "connected" if self.sink.connected else "unavailable"})

    async def metrics_page(self, request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    @web.middleware
    async def guard_and_count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Turn refusals into JSON answers, count every answer, and keep bugs from leaking details."""
        route = request.match_info.route.name or "unmatched"
        try:
            response = await handler(request)
        except Refusal as refusal:
            response = _json(refusal.status, refusal.body())
            if refusal.status == 503:
                response.headers["Retry-After"] = str(RETRY_AFTER_S)
        except web.HTTPException as exc:  # the router's 404 / 405
            error = exc.reason.lower().replace(" ", "_")
            response = _json(exc.status, {"error": error, "detail": exc.reason})
        except Exception:  # a bug, never bad input: log it, answer without internals
            log.exception("%s: unexpected error", route)
            response = _json(500, {"error": "internal", "detail": "unexpected error; see the gateway's log"})
        self.metrics.request(route, response.status)
        return response


def build_app(
    settings: Settings,
    sink: Sink | None = None,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The aiohttp application. Without a sink, a `KafkaSink` on `PULSE_KAFKA_URL`."""
    if sink is None:
        assert settings.kafka_url, "the gateway needs PULSE_KAFKA_URL"
        make_sender = partial(KafkaSender, security=client_options(settings))
        sink = KafkaSink(settings.kafka_url, settings.gateway_send_timeout_s, make_sender=make_sender)
    gateway = Gateway(settings, sink, registry or CollectorRegistry(auto_describe=False), clock)
    app = web.Application(client_max_size=settings.gateway_max_bytes, middlewares=[gateway.guard_and_count])
    app.router.add_post("/v1/events", gateway.native, name="events")
    for vendor in ADAPTERS:
        app.router.add_post(f"/v1/webhooks/{vendor}", partial(gateway.webhook, vendor), name=vendor)
    app.router.add_get("/healthz", gateway.healthz, name="healthz")
    app.router.add_get("/metrics", gateway.metrics_page, name="metrics")
    app.on_startup.append(partial(_connect, sink))
    app.on_cleanup.append(partial(_close, sink))
    for route in ("events", *ADAPTERS):
        level = logging.INFO if "NONE" not in gateway.guard.describe(route) else logging.WARNING
        log.log(level, "gateway: %s authentication: %s", route, gateway.guard.describe(route))
    return app


async def _connect(sink: Sink, app: web.Application) -> None:
    if isinstance(sink, KafkaSink):
        await sink.connect()


async def _close(sink: Sink, app: web.Application) -> None:
    await sink.close()


def run_gateway(settings: Settings) -> None:
    """Blocks until SIGTERM or SIGINT. No access log: a webhook URL may carry `?token=`."""
    app = build_app(settings)
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "") else settings.gateway_host
    print(
        f"pulse gateway: http://{host}:{settings.gateway_port}/v1/events and "
        f"/v1/webhooks/{{{','.join(ADAPTERS)}}} -> Kafka {settings.kafka_url}",
        flush=True,
    )
    web.run_app(app, host=settings.gateway_host, port=settings.gateway_port, print=None, access_log=None)


def _content_kind(request: web.Request, allow_ndjson: bool) -> bool:
    """True for NDJSON, False for JSON; anything else is a 415 `Refusal`."""
    kind = request.content_type
    if kind == JSON:
        return False
    if allow_ndjson and kind in NDJSON:
        return True
    accepted = f"{JSON} or application/x-ndjson" if allow_ndjson else JSON
    raise Refusal(415, "unsupported_media_type", f"Content-Type {kind!r} is not accepted; send {accepted}")


def _too_large(limit: int) -> Refusal:
    return Refusal(413, "too_large", f"the body is over the {limit}-byte limit (PULSE_GATEWAY_MAX_BYTES)")


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type=JSON)
