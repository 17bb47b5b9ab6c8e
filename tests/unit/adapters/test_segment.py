"""Segment Spec calls → clickstream events, on payloads shaped like Segment's documented examples."""

from __future__ import annotations

import pytest

from metrics_core.adapters import AdapterError, Options
from metrics_core.adapters.segment import adapt
from tests.unit.adapters.vendors import load, validated

OPTIONS = Options(property="web", conversions=frozenset({"Order Completed", "Signed Up"}))


def test_page_from_the_spec_example_uses_the_name_without_a_path() -> None:
    result = adapt(load("segment_page"), OPTIONS)
    (event,) = validated(result)
    assert event.type == "clickstream.page_view"
    assert event.event_id == "022bb90c-bbac-11e4-8dfc-aa07a5b093db"  # messageId
    assert event.ts_ms == 1424730535111  # `timestamp`, not `sentAt` nor `receivedAt`
    assert event.property == "web"
    assert event.fields["page"] == "Home"
    assert event.fields["user_id"] == "97980cfea0067"
    assert event.fields["anonymous_id"] == "507f191e810c19729de860ea"
    assert event.fields["title"] == "Welcome | Initech"
    assert event.fields["user_agent"].startswith("Mozilla/5.0 (Macintosh")


def test_page_from_analytics_js_uses_the_path() -> None:
    (event,) = validated(adapt(load("segment_page_analytics_js"), OPTIONS))
    assert event.fields["page"] == "/academy/"
    assert event.fields["referrer"] == "https://www.google.com/"
    assert "user_id" not in event.fields  # an anonymous visitor
    assert event.ts_ms == 1449947461249


def test_page_falls_back_to_the_context_path() -> None:
    call = {**load("segment_page_analytics_js"), "properties": {}}
    assert adapt(call, OPTIONS).events[0]["page"] == "/academy/"


def test_track_of_a_known_user_is_a_feature_used() -> None:
    (event,) = validated(adapt(load("segment_track"), OPTIONS))
    assert (event.type, event.fields["feature"], event.fields["user_id"]) == (
        "clickstream.feature_used",
        "Course Clicked",
        "AiUGstSDIg",
    )


def test_order_completed_is_a_conversion_with_its_revenue() -> None:
    (event,) = validated(adapt(load("segment_track_order_completed"), OPTIONS))
    assert event.type == "clickstream.conversion"
    assert event.fields["goal"] == "Order Completed"
    assert event.fields["value"] == 25.0
    assert event.event_id == "ajs-9a1f4c0e2b7d4f3a8c6e5d4b3a2f1e0d"


def test_the_conversion_list_is_configurable() -> None:
    result = adapt(load("segment_track"), Options(conversions=frozenset({"Course Clicked"})))
    assert result.events[0]["type"] == "clickstream.conversion"


def test_an_anonymous_track_is_tallied() -> None:
    call = {**load("segment_track"), "userId": None}
    result = adapt(call, OPTIONS)
    assert (result.events, dict(result.ignored)) == ([], {"track.anonymous": 1})


def test_identify_and_other_calls_are_tallied() -> None:
    calls = [load("segment_identify"), {"type": "group"}, {"type": "screen"}, {}]
    result = adapt(calls, OPTIONS)
    assert result.events == []
    assert dict(result.ignored) == {"identify": 1, "group": 1, "screen": 1, "missing": 1}


def test_a_batch_object_and_an_array() -> None:
    page, track = load("segment_page"), load("segment_track")
    assert len(adapt({"batch": [page, track]}, OPTIONS).events) == 2
    assert adapt([page, 3], OPTIONS).origins == [0, 1]


def test_a_scalar_body_is_refused() -> None:
    with pytest.raises(AdapterError, match="segment"):
        adapt("page", OPTIONS)
