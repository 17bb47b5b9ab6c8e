"""Delighted webhooks → survey events, on payloads shaped like Delighted's documented example."""

from __future__ import annotations

import pytest

from metrics_core.adapters import AdapterError, Options
from metrics_core.adapters.delighted import adapt
from tests.unit.adapters.vendors import load, validated


def test_the_documented_update() -> None:
    result = adapt(load("delighted_survey_response_updated"), Options(property="app"))
    (event,) = validated(result)
    assert event.type == "survey.nps"
    assert event.event_id == "survey_response.updated:5435:1732187444"
    assert event.ts_ms == 1732187444000  # updated_at: the later version is the later event
    assert event.property == "app"
    assert dict(event.fields) == {"response_id": "5435", "score": 9, "survey_id": "nps"}


def test_created_then_updated_are_two_events_of_one_response_the_update_later() -> None:
    created = adapt(load("delighted_survey_response_created"), Options()).events[0]
    updated = adapt(load("delighted_survey_response_updated"), Options()).events[0]
    assert created["response_id"] == updated["response_id"]
    assert created["event_id"] != updated["event_id"]
    assert created["timestamp"] < updated["timestamp"]  # last score wins
    assert (created["score"], updated["score"]) == (6, 9)


def test_a_redelivery_is_the_same_event() -> None:
    payload = load("delighted_survey_response_updated")
    assert (
        adapt(payload, Options()).events == adapt(load("delighted_survey_response_updated"), Options()).events
    )


def test_no_personal_data_is_carried() -> None:
    event = adapt(load("delighted_survey_response_updated"), Options()).events[0]
    assert not any("@" in str(v) or "Charlie" in str(v) or "flawless" in str(v) for v in event.values())


@pytest.mark.parametrize(
    ("survey_type", "native", "extra"),
    [("csat", "survey.csat", {"scale_max": 5}), ("ces", "survey.ces", {}), ("enps", "survey.nps", {})],
)
def test_other_survey_types(survey_type: str, native: str, extra: dict[str, int]) -> None:
    payload = load("delighted_survey_response_updated")
    payload["event_data"].update(survey_type=survey_type, score=4)
    result = adapt(payload, Options())
    validated(result)
    (event,) = result.events
    assert event["type"] == native and event["survey_id"] == survey_type
    assert {k: event[k] for k in extra} == extra


def test_survey_types_without_a_native_scale_are_tallied() -> None:
    payload = load("delighted_survey_response_updated")
    payload["event_data"]["survey_type"] = "smileys"
    assert dict(adapt(payload, Options()).ignored) == {"survey_response.updated.smileys": 1}


def test_no_survey_type_means_nps_from_delighted() -> None:
    payload = load("delighted_survey_response_updated")
    del payload["event_data"]["survey_type"]
    event = adapt(payload, Options()).events[0]
    assert (event["type"], event["survey_id"]) == ("survey.nps", "delighted")


def test_unsubscribes_are_tallied() -> None:
    result = adapt(load("delighted_unsubscribe_created"), Options())
    assert (result.events, dict(result.ignored)) == ([], {"unsubscribe.created": 1})


def test_an_array_is_refused() -> None:
    with pytest.raises(AdapterError, match="delighted"):
        adapt([], Options())
