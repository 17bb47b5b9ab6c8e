"""Delighted webhooks (`survey_response.created/updated`) → native `survey.*` events.

A response's score may change (`survey_response.updated`): each change is a new event whose
time is the response's `updated_at`, so the survey family keeps the latest score (last score
wins), while a retried delivery of the same webhook carries the same `event_id` and counts once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metrics_core.adapters.base import AdapterError, AdapterResult, NativeEvent, Options, compact, kind_of
from metrics_core.events.decode import describe

_RESPONSE_EVENTS = frozenset({"survey_response.created", "survey_response.updated"})

# Delighted's survey_type → the native type, and fields it implies. NPS is Delighted's
# original survey (an absent type means NPS); types with no native counterpart (smileys,
# thumbs, pmf, ...) are tallied, never forced onto the NPS scale.
_SURVEY_TYPES: dict[str | None, tuple[str, NativeEvent]] = {
    None: ("survey.nps", {}),
    "nps": ("survey.nps", {}),
    "enps": ("survey.nps", {}),
    "csat": ("survey.csat", {"scale_max": 5}),
    "ces": ("survey.ces", {}),
}


def adapt(payload: object, options: Options) -> AdapterResult:
    """Map one Delighted webhook.

    >>> adapt({"event_type": "survey_response.updated", "event_data": {"id": "5435",
    ...     "survey_type": "nps", "score": 9, "updated_at": 1732187444}}, Options()).events
    [{'event_id': 'survey_response.updated:5435:1732187444', 'type': 'survey.nps', \
'timestamp': 1732187444, 'property': 'default', 'response_id': '5435', 'score': 9, 'survey_id': 'nps'}]
    """
    if not isinstance(payload, dict):
        raise AdapterError(f"delighted: expected a webhook object, got {describe(payload)}")
    result = AdapterResult()
    kind = payload.get("event_type")
    data = payload.get("event_data")
    data = data if isinstance(data, dict) else {}  # {}: validation names what is missing
    survey_type = data.get("survey_type")
    mapped = _SURVEY_TYPES.get(survey_type) if survey_type is None or isinstance(survey_type, str) else None
    if not isinstance(kind, str) or kind not in _RESPONSE_EVENTS:
        result.ignore(kind_of(kind))
    elif mapped is None:
        result.ignore(f"{kind}.{kind_of(survey_type)}")
    else:
        event_type, implied = mapped
        result.add(compact({**_event(kind, event_type, data, options), **implied}))
    return result


def _event(kind: str, event_type: str, data: Mapping[str, Any], options: Options) -> NativeEvent:
    response_id, updated_at = data.get("id"), data.get("updated_at")
    return {
        # the response and its version: an update is a new event, a redelivery is a duplicate
        "event_id": f"{kind}:{response_id}:{updated_at}",
        "type": event_type,
        "timestamp": updated_at,
        "property": options.property,
        "response_id": response_id,
        "score": data.get("score"),
        "survey_id": data.get("survey_type") or "delighted",
    }
