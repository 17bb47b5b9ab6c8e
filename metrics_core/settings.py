"""Settings: one frozen object, the only place that reads the environment (prefix PULSE_)."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from metrics_core.errors import ConfigError
from metrics_core.events.model import FAMILIES
from metrics_core.windows import Window, parse_duration_ms, parse_windows, retention_ms

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class Settings(BaseSettings):
    """Every knob of Pulse. Build it directly in tests: `Settings(kafka_url=..., ...)`."""

    model_config = SettingsConfigDict(env_prefix="PULSE_", frozen=True, extra="forbid")

    kafka_url: str | None = Field(None, description="e.g. kafka://127.0.0.1:9092 (comma-separated brokers)")
    redis_url: str | None = Field(None, description="e.g. redis://127.0.0.1:6379/0")
    topic_prefix: str = Field("", description="prepended to every topic name")
    windows: str = Field("5m,1h,24h,7d,30d", description="rolling windows, comma-separated")
    exporter_host: str = Field("0.0.0.0", description="address the exporter binds")
    exporter_port: int = Field(9640, ge=0, le=65535)
    dedup_horizon: str = Field("72h", description="how long an event_id is remembered")
    label_cap: int = Field(
        500, ge=1, description="distinct values kept per label; the rest fold into __other__"
    )
    session_timeout: str = Field("30m", description="inactivity that ends a session without session_id")
    partitions: int = Field(4, ge=1, description="partitions of the topics Pulse creates")
    app_id: str = Field("pulse", description="Kafka consumer group / Faust app id")
    batch_size: int = Field(2000, ge=1, description="events per batch (take_events max)")
    batch_within_s: float = Field(0.25, gt=0, description="longest wait to fill a batch")
    max_event_bytes: int = Field(65_536, ge=256, description="larger messages are rejected (too_large)")
    batch_delivery: bool = Field(
        True, description="deliver each fetched batch to the worker in one call (streams/transport.py)"
    )
    rebalance_timeout_s: float = Field(60.0, gt=0, description="Kafka group rebalance timeout")
    fetch_wait_ms: int = Field(
        100, ge=1, le=10_000, description="longest a Kafka fetch waits at the broker for new records"
    )
    # --- how every Kafka client connects (docs/security.md); the password from the environment only
    kafka_security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS)"
    )
    kafka_sasl_mechanism: SaslMechanism | None = Field(
        None, description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; required with SASL_*"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user; required with SASL_*")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password; required with SASL_*")
    kafka_ssl_cafile: str | None = Field(
        None, description="PEM file of the CA(s) that signed the brokers' certificates; None: system CAs"
    )
    kafka_ssl_certfile: str | None = Field(None, description="PEM client certificate, for mutual TLS")
    kafka_ssl_keyfile: str | None = Field(
        None, description="PEM key of the client certificate (None: it is in the certfile)"
    )
    # --- the worker's health server (GET /healthz, streams/health.py)
    worker_health_host: str = Field("0.0.0.0", description="address the worker's health server binds")
    worker_health_port: int = Field(9641, ge=0, le=65535, description="worker GET /healthz; 0 disables it")
    worker_stall_s: float = Field(
        120.0, gt=0, description="the worker reports unhealthy after this long without progress"
    )
    # --- the HTTP gateway (`pulse gateway`, docs/gateway.md); secrets come from the environment only
    gateway_host: str = Field("0.0.0.0", description="address the gateway binds")
    gateway_port: int = Field(8640, ge=0, le=65535)
    gateway_token: SecretStr | None = Field(
        None, description="bearer token for POST /v1/events; None: NO authentication (trusted networks only)"
    )
    gateway_max_bytes: int = Field(1_048_576, ge=1024, description="largest request body accepted")
    gateway_send_timeout_s: float = Field(
        10.0, gt=0, description="longest wait for Kafka's acks before answering 503"
    )
    sendgrid_public_key: SecretStr | None = Field(
        None, description="base64 DER ECDSA key of SendGrid's Signed Event Webhook; None: unsigned"
    )
    sendgrid_tolerance_s: int = Field(300, ge=0, description="oldest signed timestamp taken; 0: any age")
    segment_secret: SecretStr | None = Field(None, description="Segment webhook shared secret (X-Signature)")
    segment_conversions: str = Field(
        "Order Completed,Signed Up", description="Segment track events that are conversions, comma-separated"
    )
    stripe_secret: SecretStr | None = Field(None, description="Stripe endpoint signing secret (whsec_...)")
    stripe_tolerance_s: int = Field(300, ge=1, description="oldest Stripe-Signature timestamp taken")

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kafka_security_consistent(self) -> Self:
        problem = kafka_security_problem(self)
        if problem:
            raise ConfigError(problem)  # not a ValueError: pydantic passes it on as it is
        return self

    @field_validator("windows")
    @classmethod
    def _windows_parse(cls, value: str) -> str:
        parse_windows(value)
        return value

    @field_validator("dedup_horizon", "session_timeout")
    @classmethod
    def _duration_parses(cls, value: str) -> str:
        parse_duration_ms(value)
        return value

    @cached_property
    def window_list(self) -> tuple[Window, ...]:
        return parse_windows(self.windows)

    @property
    def retention_ms(self) -> int:
        return retention_ms(self.window_list)

    @property
    def dedup_horizon_ms(self) -> int:
        return parse_duration_ms(self.dedup_horizon)

    @property
    def session_timeout_ms(self) -> int:
        return parse_duration_ms(self.session_timeout)

    @property
    def segment_conversion_list(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.segment_conversions.split(",") if name.strip())

    @property
    def embedded(self) -> bool:
        """Neither URL given: `pulse run` starts its own broker and Redis."""
        return self.kafka_url is None and self.redis_url is None

    def topic(self, family: str) -> str:
        return f"{self.topic_prefix}{family}"

    def dlq_topic(self, family: str) -> str:
        return f"{self.topic_prefix}{family}.dlq"

    def repartition_topic(self, family: str) -> str:
        return f"{self.topic_prefix}{family}.repartition"

    def all_topics(self) -> list[str]:
        return [
            name for f in FAMILIES for name in (self.topic(f), self.dlq_topic(f), self.repartition_topic(f))
        ]


def kafka_security_problem(s: Settings) -> str | None:
    """What is inconsistent in the Kafka security settings, naming the variable to fix; None if nothing.

    Credentials or certificates that the protocol would not use are an error, not ignored:
    they mean the protocol was forgotten, and Pulse would connect without the protection asked for.
    """
    protocol = s.kafka_security_protocol
    sasl, tls = protocol.startswith("SASL_"), protocol in ("SSL", "SASL_SSL")
    given = {
        "PULSE_KAFKA_SASL_MECHANISM": s.kafka_sasl_mechanism,
        "PULSE_KAFKA_SASL_USERNAME": s.kafka_sasl_username,
        "PULSE_KAFKA_SASL_PASSWORD": s.kafka_sasl_password,
    }
    if sasl:
        missing = [name for name, value in given.items() if not value]
        if missing:
            return (
                f"PULSE_KAFKA_SECURITY_PROTOCOL={protocol} needs {_and(missing)}"
                " (mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"
            )
    elif unused := [name for name, value in given.items() if value]:
        return (
            f"{_and(unused)} set but PULSE_KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL: "
            "set it to SASL_SSL (or SASL_PLAINTEXT), or unset them"
        )
    files = {
        "PULSE_KAFKA_SSL_CAFILE": s.kafka_ssl_cafile,
        "PULSE_KAFKA_SSL_CERTFILE": s.kafka_ssl_certfile,
        "PULSE_KAFKA_SSL_KEYFILE": s.kafka_ssl_keyfile,
    }
    if not tls and (unused := [name for name, value in files.items() if value]):
        return (
            f"{_and(unused)} set but PULSE_KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS: "
            "set it to SSL or SASL_SSL, or unset them"
        )
    if s.kafka_ssl_keyfile and not s.kafka_ssl_certfile:
        return "PULSE_KAFKA_SSL_KEYFILE needs PULSE_KAFKA_SSL_CERTFILE (the client certificate it belongs to)"
    return None


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
