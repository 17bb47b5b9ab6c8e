"""Every adapter is total: any JSON value either maps or raises AdapterError, nothing else,
and whatever it maps is judged by the validator without raising either."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics_core.adapters import ADAPTERS, AdapterError, Options
from metrics_core.events import decode_json
from tests.unit.adapters.vendors import NOW_MS, load

SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=20)
KEYS = st.sampled_from(
    ["event", "type", "sg_event_id", "sg_message_id", "timestamp", "email", "category", "campaign_id",
     "data", "object", "previous_attributes", "status", "customer", "items", "amount_paid", "currency",
     "invoice", "id", "event_type", "event_data", "score", "survey_type", "updated_at", "messageId",
     "userId", "anonymousId", "properties", "context", "page", "path", "name", "batch", "revenue"]
)  # fmt: skip
KINDS = st.sampled_from(
    ["processed", "delivered", "open", "click", "bounce", "dropped", "spamreport", "unsubscribe",
     "group_unsubscribe", "page", "track", "identify", "customer.subscription.created",
     "customer.subscription.deleted", "customer.subscription.updated", "invoice.paid",
     "charge.succeeded", "survey_response.created", "survey_response.updated"]
)  # fmt: skip
JSON = st.recursive(
    SCALARS | KINDS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=5), inner, max_size=6)
    ),
    max_leaves=30,
)


def judge(vendor: str, payload: object) -> None:
    try:
        result = ADAPTERS[vendor](payload, Options())
    except AdapterError:
        return
    assert len(result.events) == len(result.origins)
    for event in result.events:
        family = event.get("type", "").partition(".")[0] if isinstance(event, dict) else "clickstream"
        decode_json(event, family, NOW_MS)


@settings(max_examples=300, deadline=None)
@given(payload=JSON, vendor=st.sampled_from(sorted(ADAPTERS)))
def test_any_json_never_raises(payload: object, vendor: str) -> None:
    judge(vendor, payload)


MUTATED = [
    ("sendgrid", "sendgrid_events"),
    ("segment", "segment_track_order_completed"),
    ("stripe", "stripe_subscription_updated"),
    ("stripe", "stripe_charge_succeeded"),
    ("delighted", "delighted_survey_response_updated"),
]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_mutated_fixtures_never_raise(data: st.DataObject) -> None:
    """Real payloads with one field replaced by anything."""
    vendor, name = data.draw(st.sampled_from(MUTATED))
    payload = load(name)
    target = payload[0] if isinstance(payload, list) else payload
    for _ in range(data.draw(st.integers(0, 3))):
        if isinstance(target, dict) and target:
            key = data.draw(st.sampled_from(sorted(target)))
            if isinstance(target[key], dict) and data.draw(st.booleans()):
                target = target[key]
                continue
            target[key] = data.draw(JSON)
    judge(vendor, payload)
