"""Pulse's error tree: each class says whether retrying the same operation can succeed."""

from __future__ import annotations


class PulseError(Exception):
    """Base of every Pulse error."""

    retriable: bool = False


class ConfigError(PulseError):
    """A setting is missing or malformed; fix the environment or flags and start again."""


class StoreUnavailable(PulseError):
    """Redis did not answer; the batch was not applied and may be retried as it is."""

    retriable = True


class StoreConflict(PulseError):
    """Another writer changed the shard between read and commit; re-read and recompute."""

    retriable = True


class BrokerUnavailable(PulseError):
    """Kafka did not answer; retry later."""

    retriable = True


class EmbeddedServerError(PulseError):
    """An embedded broker or Redis could not start; the message says which and why."""


class ExporterUnavailable(PulseError):
    """The exporter's /metrics did not answer, or not with Prometheus text; retry later."""

    retriable = True
