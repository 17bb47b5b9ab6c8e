"""One scrape with every family populated: every DESIGN §5 metric is served for every window,
and the whole exposition passes `promtool check metrics`."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics_core.batch import Applier, Limits, Record, classify
from metrics_core.exposition.collector import PulseCollector
from metrics_core.registry import family_logic
from metrics_core.routing import routing_key
from metrics_core.store.base import ShardId
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import retention_ms
from tests.unit.conftest import NOW_MS, NOW_S, SESSION_TIMEOUT_MS, WINDOWS, event

# DESIGN §5, every gauge (the pulse_email_campaign_<same ratios> row written out)
DESIGN_GAUGES = [
    "pulse_page_views",
    "pulse_unique_visitors",
    "pulse_sessions",
    "pulse_bounced_sessions",
    "pulse_bounce_ratio",
    "pulse_session_duration_seconds",
    "pulse_page_exit_ratio",
    "pulse_click_through_ratio",
    "pulse_conversion_ratio",
    "pulse_feature_adoption_ratio",
    "pulse_email_sent",
    "pulse_email_delivered",
    "pulse_email_delivery_ratio",
    "pulse_email_bounce_ratio",
    "pulse_email_open_ratio",
    "pulse_email_human_open_ratio",
    "pulse_email_click_through_ratio",
    "pulse_email_click_to_open_ratio",
    "pulse_email_unsubscribe_ratio",
    "pulse_email_spam_complaint_ratio",
    "pulse_email_conversion_ratio",
    "pulse_email_campaign_delivery_ratio",
    "pulse_email_campaign_bounce_ratio",
    "pulse_email_campaign_open_ratio",
    "pulse_email_campaign_human_open_ratio",
    "pulse_email_campaign_click_through_ratio",
    "pulse_email_campaign_click_to_open_ratio",
    "pulse_email_campaign_unsubscribe_ratio",
    "pulse_email_campaign_spam_complaint_ratio",
    "pulse_email_campaign_conversion_ratio",
    "pulse_social_interactions",
    "pulse_social_engagement_ratio",
    "pulse_social_share_of_voice_ratio",
    "pulse_social_follower_growth_ratio",
    "pulse_social_response_seconds",
    "pulse_social_response_ratio",
    "pulse_nps_score",
    "pulse_nps_responses",
    "pulse_csat_ratio",
    "pulse_ces_score",
    "pulse_churn_ratio",
    "pulse_churned_customers",
    "pulse_retention_ratio",
    "pulse_average_order_value",
    "pulse_repeat_purchase_ratio",
    "pulse_customer_lifetime_value",
    "pulse_ticket_resolution_seconds",
    "pulse_ticket_resolution_median_seconds",
    "pulse_event_attendance_ratio",
]
NO_WINDOW = {"pulse_active_customers"}
H = 3600


def _dataset() -> dict[str, list[bytes]]:
    """A little of everything, so every ratio has a non-zero denominator in every window."""
    t = NOW_S - 120  # inside 5m
    early = NOW_S - 24 * H - 600  # before every window: customers active at every window start
    e: dict[str, list[Any]] = {
        "clickstream": [
            event("clickstream.page_view", "w1", t, page="/", anonymous_id="a"),
            event("clickstream.page_view", "w2", t + 10, page="/p", anonymous_id="a"),
            event("clickstream.page_view", "w3", t, page="/", anonymous_id="b", user_id="u"),
            event("clickstream.impression", "w4", t, placement="hero", anonymous_id="a"),
            event("clickstream.click", "w5", t, placement="hero", anonymous_id="a"),
            event("clickstream.conversion", "w6", t, goal="signup", anonymous_id="a"),
            event("clickstream.feature_used", "w7", t, feature="export", user_id="u"),
        ],
        "email": [
            event("email.sent", "e1", t, message_id="m1", campaign_id="c1"),
            event("email.delivered", "e2", t + 1, message_id="m1", campaign_id="c1"),
            event("email.opened", "e3", t + 2, message_id="m1", campaign_id="c1"),
            event("email.clicked", "e4", t + 3, message_id="m1", campaign_id="c1"),
            event("email.sent", "e5", t, message_id="m2", campaign_id="c1"),
            event("email.bounced", "e6", t + 1, message_id="m2", campaign_id="c1", bounce_type="hard"),
        ],
        "social": [
            event("social.impression", "s1", t, platform="x", count=10),
            event("social.like", "s2", t, platform="x", count=2),
            event("social.mention", "s3", t, platform="x", brand="us", own=True),
            event("social.mention", "s4", t, platform="x", brand="them", own=False),
            event("social.followers", "s5", NOW_S - 24 * H - 600, platform="x", followers=100),
            event("social.followers", "s6", t, platform="x", followers=110),
            event("social.inbound_message", "s7", t, platform="x", conversation_id="cv"),
            event("social.reply", "s8", t + 30, platform="x", conversation_id="cv"),
        ],
        "survey": [
            event("survey.nps", "v1", t, response_id="r1", score=10),
            event("survey.nps", "v2", t, response_id="r2", score=3),
            event("survey.csat", "v3", t, response_id="r3", score=5),
            event("survey.ces", "v4", t, response_id="r4", score=6),
        ],
        "customer": [
            *[event("customer.subscription_started", f"c{i}", early, customer_id=f"k{i}", plan="pro")
              for i in range(4)],
            event("customer.subscription_cancelled", "cx", t, customer_id="k0", reason="voluntary"),
            event("customer.order_placed", "o1", t, order_id="o1", customer_id="k1", amount=20),
            event("customer.order_placed", "o2", t + 5, order_id="o2", customer_id="k1", amount=40),
            event("customer.ticket_opened", "t1", t - 600, ticket_id="tk"),
            event("customer.ticket_resolved", "t2", t, ticket_id="tk"),
            event("customer.event_registered", "g1", t, event_name="launch", attendee_id="p1"),
            event("customer.event_attended", "g2", t + 60, event_name="launch", attendee_id="p1"),
        ],
    }  # fmt: skip
    return e


def test_every_design_metric_in_one_scrape_passes_promtool(promtool: str) -> None:
    store = MemoryStore()
    limits = Limits(WINDOWS, retention_ms(WINDOWS), 72 * H * 1000, SESSION_TIMEOUT_MS, 500)
    for family, payloads in _dataset().items():
        records = [Record(i, p) for i, p in enumerate(payloads)]
        plan = classify(records, family, 0, None, NOW_MS, limits.retention_ms, 65_536, routing_key)
        assert not plan.rejected, plan.rejected

        async def emit(todo: Any) -> None:
            return None

        applier = Applier(store, family_logic(family), limits)
        outcome = asyncio.run(applier.apply(ShardId(family, 0), f"{family}@1|0", plan, emit, now_ms=NOW_MS))
        assert outcome.applied == len(payloads)
    registry = CollectorRegistry()
    registry.register(PulseCollector(store, WINDOWS, lambda f: f, clock=lambda: NOW_S))
    text = generate_latest(registry).decode()

    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    served: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            served.setdefault(sample.name, set()).add(sample.labels.get("window", ""))
    missing = {
        (name, w.label) for name in DESIGN_GAUGES for w in WINDOWS if w.label not in served.get(name, set())
    }
    assert not missing, sorted(missing)
    assert all(name in served for name in NO_WINDOW)
