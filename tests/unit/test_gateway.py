"""The HTTP layer of `pulse gateway`, in process (aiohttp's TestServer) over a fake sink:
native events, auth, limits, content types and garbage, Kafka down, and the gateway's own
endpoints. The vendor webhooks are in tests/unit/test_gateway_webhooks.py; both share the
fake sink and `make_client` (tests/unit/gateway_support.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from tests.unit.gateway_support import NOW_S, page_view, post
from tests.unit.gateway_support import make_client as make_client  # a fixture, re-exported for pytest

# --- native events


async def test_one_event_is_accepted_and_sent_keyed_to_its_topic(make_client: Any) -> None:
    client, sink, _ = await make_client()
    status, body, _ = await post(client, "/v1/events", page_view("e1"))
    assert (status, body) == (200, {"accepted": 1, "rejected": [], "rejected_count": 0, "ignored": {}})
    ((topic, partition, key, value, headers),) = sink.sent
    assert (topic, partition, key, headers) == ("p.clickstream", None, b"v1", [])
    assert orjson.loads(value)["event_id"] == "e1"


async def test_an_array_with_bad_events_is_207_with_a_reason_for_each(make_client: Any) -> None:
    client, sink, _ = await make_client()
    events = [
        page_view("ok-1"),
        page_view("no-page", page=None),
        {"event_id": "m1", "type": "email.sent", "timestamp": NOW_S, "message_id": "m", "campaign_id": "c"},
        "not an object",
        page_view("future", timestamp=NOW_S + 3600),
        {"event_id": "x", "type": "clickstream.teleport", "timestamp": NOW_S},
    ]
    status, body, _ = await post(client, "/v1/events", events)
    assert status == 207
    assert body["accepted"] == 2 and body["rejected_count"] == 4
    assert [(r["index"], r["event_id"], r["reason"]) for r in body["rejected"]] == [
        (1, "no-page", "missing_field"),
        (3, None, "not_an_object"),
        (4, "future", "future_timestamp"),
        (5, "x", "unknown_type"),
    ]
    assert "'page'" in body["rejected"][0]["detail"]
    assert [topic for topic, *_ in sink.sent] == ["p.clickstream", "p.email"]


async def test_all_rejected_is_400_and_nothing_is_sent(make_client: Any) -> None:
    client, sink, _ = await make_client()
    status, body, _ = await post(client, "/v1/events", [page_view("a", page=None), {}])
    assert (status, body["accepted"], body["rejected_count"]) == (400, 0, 2)
    assert sink.sent == []


async def test_ndjson_indexes_by_line_and_survives_a_bad_line(make_client: Any) -> None:
    client, sink, _ = await make_client()
    lines = orjson.dumps(page_view("n1")) + b"\n\n{oops\n" + orjson.dumps(page_view("n2")) + b"\n"
    status, body, _ = await post(client, "/v1/events", lines, "application/x-ndjson")
    assert (status, body["accepted"]) == (207, 2)
    assert [(r["index"], r["reason"]) for r in body["rejected"]] == [(2, "invalid_json")]
    assert [v["event_id"] for v in sink.values()] == ["n1", "n2"]


async def test_an_empty_array_is_fine(make_client: Any) -> None:
    client, _, _ = await make_client()
    status, body, _ = await post(client, "/v1/events", [])
    assert (status, body["accepted"]) == (200, 0)


# --- auth, limits, content types, garbage


async def test_bearer_token(make_client: Any) -> None:
    client, sink, _ = await make_client(gateway_token="t0ken")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic t0ken"}):
        status, body, _ = await post(client, "/v1/events", page_view("e"), **headers)
        assert (status, body["error"]) == (401, "unauthorized")
        assert "t0ken" not in str(body)
    status, _, _ = await post(client, "/v1/events", page_view("e"), Authorization="Bearer t0ken")
    assert status == 200 and len(sink.sent) == 1


@pytest.mark.parametrize("path", ["/v1/events", "/v1/webhooks/sendgrid", "/v1/webhooks/stripe"])
async def test_too_large_is_413(make_client: Any, path: str) -> None:
    client, sink, _ = await make_client(gateway_max_bytes=2048)
    big = [page_view(f"e{i}") for i in range(40)]
    status, body, _ = await post(client, path, big)
    assert (status, body["error"]) == (413, "too_large")

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(10):
            yield b" " * 1000

    response = await client.post(path, data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert sink.sent == []


async def test_webhooks_take_json_only(make_client: Any) -> None:
    client, _, _ = await make_client()
    status, _, _ = await post(client, "/v1/webhooks/sendgrid", b"{}\n", "application/x-ndjson")
    assert status == 415


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_wrong_content_type_is_415(make_client: Any, content_type: str) -> None:
    client, _, _ = await make_client()
    status, body, _ = await post(client, "/v1/events", page_view("e"), content_type)
    assert (status, body["error"]) == (415, "unsupported_media_type")


GARBAGE = [
    b"",
    b"not json",
    b"\xff\xfe\x00garbage",
    b"[" * 5000 + b"]" * 5000,  # nesting deeper than 1024
    b'{"a":' * 3000 + b"1" + b"}" * 3000,
    b"[1, 2",
    b"NaN",
    b"null",
    b"3",
    b'"a string"',
    b"[[[]]]",
    b'{"event_id": {"nested": [1, 2, {"x": null}]}, "type": ["a"], "timestamp": {}}',
    b'[{"event_id": "e", "type": "clickstream.page_view", "timestamp": 1e400}]',
    b'{"event_id": "e", "type": "survey.nps", "timestamp": 0, "response_id": "r", "score": 1'
    + b"0" * 30
    + b"}",
]


@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
@pytest.mark.parametrize("path", ["/v1/events", "/v1/webhooks/sendgrid", "/v1/webhooks/segment",
                                  "/v1/webhooks/stripe", "/v1/webhooks/delighted"])  # fmt: skip
async def test_garbage_is_a_clear_4xx_never_a_500(make_client: Any, path: str, body: bytes) -> None:
    client, sink, _ = await make_client()
    response = await client.post(path, data=body, headers={"Content-Type": "application/json"})
    answer = await response.json()
    assert response.status in (200, 400, 207), answer
    assert response.status == 200 or "error" in answer or answer["rejected"]
    assert sink.sent == [] or response.status in (200, 207)


async def test_unknown_routes_and_methods_answer_json(make_client: Any) -> None:
    client, _, _ = await make_client()
    response = await client.get("/v1/events")
    assert (response.status, (await response.json())["error"]) == (405, "method_not_allowed")
    response = await client.post("/v1/webhooks/mailchimp", data=b"{}")
    assert (response.status, (await response.json())["error"]) == (404, "not_found")


# --- Kafka down


async def test_kafka_down_is_503_with_retry_after_and_nothing_acknowledged(make_client: Any) -> None:
    client, sink, registry = await make_client()
    sink.down = True
    status, body, response = await post(client, "/v1/events", [page_view("e1"), page_view("bad", page=None)])
    assert (status, body["error"]) == (503, "kafka_unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert "accepted" not in body
    assert (
        registry.get_sample_value("pulse_gateway_events_total", {"route": "events", "outcome": "accepted"})
        is None
    )
    assert registry.get_sample_value("pulse_gateway_requests_total", {"route": "events", "code": "503"}) == 1
    health = await (await client.get("/healthz")).json()
    assert health == {"status": "ok", "kafka": "unavailable"}


async def test_all_rejected_needs_no_kafka(make_client: Any) -> None:
    client, sink, _ = await make_client()
    sink.down = True
    status, _, _ = await post(client, "/v1/events", [{}])
    assert status == 400  # nothing to write: the answer does not depend on Kafka


# --- the gateway's own endpoints


async def test_metrics_and_healthz(make_client: Any) -> None:
    client, _, _ = await make_client()
    await post(client, "/v1/events", [page_view("e1"), {}])
    text = await (await client.get("/metrics")).text()
    assert 'pulse_gateway_requests_total{code="207",route="events"} 1.0' in text
    assert 'pulse_gateway_events_total{outcome="accepted",route="events"} 1.0' in text
    assert 'pulse_gateway_events_total{outcome="rejected",route="events"} 1.0' in text
    health = await (await client.get("/healthz")).json()
    assert health == {"status": "ok", "kafka": "connected"}
