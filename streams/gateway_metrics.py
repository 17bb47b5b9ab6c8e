"""The gateway's own metrics, on a registry it is given (never the global one)."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter

from metrics_core.labels import OTHER, sanitize


class GatewayMetrics:
    """Requests by route and status code; events by route and outcome; ignored vendor kinds.

    A vendor's event kind is untrusted input: it is sanitised, and each route keeps at most
    `kind_cap` distinct kinds, the rest folding into `__other__`.
    """

    def __init__(self, registry: CollectorRegistry, kind_cap: int = 100) -> None:
        self.requests = Counter(
            "pulse_gateway_requests",
            "HTTP requests answered by the gateway, by route and status code",
            ["route", "code"],
            registry=registry,
        )
        self.events = Counter(
            "pulse_gateway_events",
            "Events in requests the gateway answered: accepted (written to Kafka), rejected, ignored",
            ["route", "outcome"],
            registry=registry,
        )
        self.ignored = Counter(
            "pulse_gateway_ignored",
            "Vendor events acknowledged without a native event, by kind",
            ["route", "kind"],
            registry=registry,
        )
        self._kind_cap = kind_cap
        self._kinds: dict[str, set[str]] = {}

    def request(self, route: str, code: int) -> None:
        self.requests.labels(route, str(code)).inc()

    def outcome(self, route: str, accepted: int, rejected: int, ignored: Mapping[str, int]) -> None:
        counts = {"accepted": accepted, "rejected": rejected, "ignored": sum(ignored.values())}
        for outcome, count in counts.items():
            if count:
                self.events.labels(route, outcome).inc(count)
        for kind, count in ignored.items():
            self.ignored.labels(route, self._kind(route, kind)).inc(count)

    def _kind(self, route: str, kind: str) -> str:
        known = self._kinds.setdefault(route, set())
        label = sanitize(kind)
        if label not in known:
            if len(known) >= self._kind_cap:
                return OTHER
            known.add(label)
        return label
