"""Vendor payload fixtures (tests/fixtures/vendors/*.json) and a validator for adapted events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from metrics_core.adapters.base import AdapterResult
from metrics_core.events import Event, Rejection, decode_json

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vendors"
NOW_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z: after every fixture's event time


def load(name: str) -> Any:
    """A fixture payload, parsed as the gateway parses a body."""
    return orjson.loads((FIXTURES / f"{name}.json").read_bytes())


def raw(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def validated(result: AdapterResult) -> list[Event]:
    """Every adapted event through the worker's own validator; each must be accepted."""
    events = []
    for event in result.events:
        decoded = decode_json(event, event["type"].partition(".")[0], NOW_MS)
        assert not isinstance(decoded, Rejection), (event, decoded)
        events.append(decoded)
    return events
