"""The gateway's pure middle: a body → items → validated, addressed messages → the answer.

No HTTP and no Kafka here: every function is a function of its arguments (and `now_ms`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from metrics_core.events.model import Reason, Rejection
from metrics_core.settings import Settings
from streams.produce import route
from streams.producer import Message

LISTED_REJECTIONS = 1000  # a response lists at most this many rejections (`rejected_count` has all)
_SHOWN_ID_CHARS = 128  # DESIGN §3's event_id limit: a longer one is echoed cut


class Refusal(Exception):
    """The request as a whole is refused: `status`, a short `error` code and a sentence."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail}


@dataclass
class Intake:
    """What validation made of a request: messages to send and the rejected items."""

    messages: list[Message] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {index, event_id, reason, detail}

    def reject(self, index: int, item: object, rejection: Rejection) -> None:
        self.rejected.append(
            {
                "index": index,
                "event_id": _shown_id(item),
                "reason": rejection.reason.value,
                "detail": rejection.detail,
            }
        )


def parse_json(body: bytes) -> object:
    """The whole body as one JSON value, or a 400 `Refusal` (bad JSON, bad UTF-8, nesting over 1024)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:  # its message names a position, never the content
        detail = f"the body is not UTF-8 JSON ({str(exc)[:120]})"
        raise Refusal(400, Reason.INVALID_JSON.value, detail) from None


def native_items(body: bytes, ndjson: bool) -> list[tuple[int, object]]:
    """(index, item) for a native body: one event, a JSON array of events, or NDJSON.

    NDJSON's index is the 0-based line number; a line that does not parse becomes a `Rejection`
    item (the other lines still count), whereas a JSON body that does not parse is refused whole.

    >>> native_items(b'{"a": 1}', ndjson=False), native_items(b'[1, 2]', ndjson=False)
    ([(0, {'a': 1})], [(0, 1), (1, 2)])
    >>> native_items(b'{"a": 1}\\n\\n{"b": 2}\\n', ndjson=True)
    [(0, {'a': 1}), (2, {'b': 2})]
    """
    if not ndjson:
        value = parse_json(body)
        return list(enumerate(value)) if isinstance(value, list) else [(0, value)]
    items: list[tuple[int, object]] = []
    for number, line in enumerate(body.split(b"\n")):
        if line.strip():
            try:
                items.append((number, orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                detail = f"line: not UTF-8 JSON ({str(exc)[:120]})"
                items.append((number, Rejection(Reason.INVALID_JSON, detail)))
    return items


def validate(items: Iterable[tuple[int, object]], settings: Settings, now_ms: int) -> Intake:
    """Validate each item with the worker's own decoder and address it (topic, routing key).

    A rejected item is listed, never sent: the worker would only dead-letter it.
    """
    intake = Intake()
    for index, item in items:
        if isinstance(item, Rejection):
            intake.reject(index, None, item)
            continue
        value = orjson.dumps(item)  # parsed JSON (or an adapter's output) always serialises
        if len(value) > settings.max_event_bytes:
            detail = f"event: {len(value)} bytes is over the {settings.max_event_bytes}-byte limit"
            intake.reject(index, item, Rejection(Reason.TOO_LARGE, detail))
            continue
        routed = route(value, settings, now_ms)
        if isinstance(routed, Rejection):
            intake.reject(index, item, routed)
            continue
        intake.messages.append(routed)
    return intake


def status_of(accepted: int, rejected: int, ignored: int) -> int:
    """200 when nothing was rejected; 400 when everything was; 207 (multi-status) in between.

    >>> status_of(3, 0, 0), status_of(0, 0, 2), status_of(2, 1, 0), status_of(0, 1, 1), status_of(0, 2, 0)
    (200, 200, 207, 207, 400)
    """
    if not rejected:
        return 200
    return 207 if accepted or ignored else 400


def answer(intake: Intake, ignored: Mapping[str, int]) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of a request whose accepted events were all written."""
    accepted = len(intake.messages)
    body = {
        "accepted": accepted,
        "rejected": intake.rejected[:LISTED_REJECTIONS],
        "rejected_count": len(intake.rejected),
        "ignored": dict(ignored),
    }
    return status_of(accepted, len(intake.rejected), sum(ignored.values())), body


def _shown_id(item: object) -> str | None:
    event_id = item.get("event_id") if isinstance(item, dict) else None
    return event_id[:_SHOWN_ID_CHARS] if isinstance(event_id, str) else None
