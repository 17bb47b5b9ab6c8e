"""The email family end to end: real Tansu, `pulse worker`, Redis and `pulse exporter`.

Opens, clicks and complaints reach Kafka before their message's `sent` (in an earlier batch, so
the revision goes through the message state in Redis); duplicates, machine opens, bot clicks,
unkeyed events (re-keyed through the repartition topic) and two campaigns. /metrics must equal
the hand-computed values.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from streams.embedded import EmbeddedKafka, EmbeddedRedis
from tests.integration.harness import (
    log_tail,
    produce,
    promtool_check,
    pulse_process,
    samples,
    scrape,
    stack_settings,
    total,
    value,
    wait_for,
)

pytestmark = pytest.mark.integration

Item = tuple[bytes | None, Any]


def _mail(now_s: int, eid: str, kind: str, ago_s: int, msg: str, campaign: str, **fields: Any) -> Item:
    body = {
        "event_id": eid,
        "type": f"email.{kind}",
        "timestamp": now_s - ago_s,
        "property": "mail",
        "message_id": msg,
        "campaign_id": campaign,
        **fields,
    }
    return msg.encode(), body


def dataset(now_s: int) -> tuple[list[Item], list[Item]]:
    """Two parts; every anchor is 80..130 s old (5m and 1h) except b1's (1500 s: 1h only).

    launch  a1  human open, human click first; sent 100, delivered 98   (+ a duplicate open)
    launch  a2  sent 110, delivered 108, machine open, bot click
    launch  a3  sent 120 (no key), soft bounce
    launch  a4  delivered 130 (no sent event), human open, unsubscribe
    winback b1  open and conversion first; sent 1500, delivered 1490
    winback b2  spam report first; sent 90, delivered 88
    winback b3  sent 80, dropped
    winback b4  an open only: never anchored, never counted
    """

    def m(eid: str, kind: str, ago_s: int, msg: str, campaign: str, **fields: Any) -> Item:
        return _mail(now_s, eid, kind, ago_s, msg, campaign, **fields)

    a3_sent = m("s-a3", "sent", 120, "a3", "launch")
    part_one = [
        m("o-a1", "opened", 40, "a1", "launch"),
        m("k-a1", "clicked", 30, "a1", "launch", url="https://shop.example/sale"),
        m("o-a2", "opened", 50, "a2", "launch", machine=True),
        m("k-a2", "clicked", 45, "a2", "launch", bot=True),
        m("d-a2", "delivered", 108, "a2", "launch"),
        m("d-a4", "delivered", 130, "a4", "launch"),
        m("o-a4", "opened", 35, "a4", "launch", machine=False),
        m("u-a4", "unsubscribed", 30, "a4", "launch", scope="global"),
        m("o-b1", "opened", 1000, "b1", "winback"),
        m("v-b1", "converted", 900, "b1", "winback", value=49.5),
        m("p-b2", "spam_reported", 20, "b2", "winback"),
        m("o-b4", "opened", 25, "b4", "winback"),
        (b"a1", b"{not json"),
    ]
    part_two = [
        m("s-a1", "sent", 100, "a1", "launch"),
        m("d-a1", "delivered", 98, "a1", "launch"),
        m("o-a1", "opened", 40, "a1", "launch"),  # a duplicate
        m("s-a2", "sent", 110, "a2", "launch"),
        (None, a3_sent[1]),  # no key: re-keyed to the partition that owns a3
        m("b-a3", "bounced", 118, "a3", "launch", bounce_type="soft"),
        m("s-b1", "sent", 1500, "b1", "winback"),
        m("d-b1", "delivered", 1490, "b1", "winback"),
        m("s-b2", "sent", 90, "b2", "winback"),
        m("d-b2", "delivered", 88, "b2", "winback"),
        m("s-b3", "sent", 80, "b3", "winback"),
        m("x-b3", "dropped", 79, "b3", "winback"),
        (b"b3", {"event_id": "bad", "type": "email.sent", "timestamp": now_s, "message_id": "b3"}),
    ]
    return part_one, part_two


ACCEPTED = 12 + 11  # valid events of part one and two, the duplicate not counted

NAMES = ("sent", "delivered", "bounced", "dropped", "opened", "human_opened", "clicked")
NAMES_2 = ("unsubscribed", "spam_complaints", "conversions")
COUNTS = {  # in NAMES + NAMES_2 order
    # 5m: launch a1 a2 a3 a4; winback b2 b3
    ("5m", None): (6, 4, 1, 1, 3, 2, 1, 1, 1, 0),
    # launch: sent a1-a4 (a4: delivery implies sending); delivered a1 a2 a4; bounced a3;
    # opened a1 a2 (machine) a4, human a1 a4; clicked a1 (a2's click is a bot's); unsubscribed a4
    ("5m", "launch"): (4, 3, 1, 0, 3, 2, 1, 1, 0, 0),
    ("5m", "winback"): (2, 1, 0, 1, 0, 0, 0, 0, 1, 0),  # b2 delivered + spam, b3 dropped
    # 1h: + b1 (winback: sent, delivered, opened, human opened, converted)
    ("1h", None): (7, 5, 1, 1, 4, 3, 1, 1, 1, 1),
    ("1h", "launch"): (4, 3, 1, 0, 3, 2, 1, 1, 0, 0),
    ("1h", "winback"): (3, 2, 0, 1, 1, 1, 0, 0, 1, 1),
}
RATIOS = {  # (numerator, denominator)
    ("1h", None): {
        "delivery_ratio": (5, 7),
        "bounce_ratio": (1, 7),
        "open_ratio": (4, 5),
        "human_open_ratio": (3, 5),
        "click_through_ratio": (1, 5),
        "click_to_open_ratio": (1, 4),
        "unsubscribe_ratio": (1, 5),
        "spam_complaint_ratio": (1, 5),
        "conversion_ratio": (1, 5),
    },
    ("1h", "launch"): {
        "delivery_ratio": (3, 4),
        "open_ratio": (3, 3),
        "human_open_ratio": (2, 3),
        "click_through_ratio": (1, 3),
        "click_to_open_ratio": (1, 3),
    },
    ("5m", "winback"): {
        "delivery_ratio": (1, 2),
        "spam_complaint_ratio": (1, 1),
        "open_ratio": (0, 1),
    },
}


def _labels(window: str, campaign: str | None) -> dict[str, str]:
    labels = {"window": window, "property": "mail"}
    return labels if campaign is None else {**labels, "campaign": campaign}


def _metric(name: str, campaign: str | None) -> str:
    return f"pulse_email_{name}" if campaign is None else f"pulse_email_campaign_{name}"


def test_email_metrics_exact_through_kafka_and_redis(
    kafka: EmbeddedKafka,
    redis_server: EmbeddedRedis,
    topic_prefix: str,
    tmp_path: Path,
    promtool: str,
) -> None:
    settings = stack_settings(kafka.url, redis_server.url, topic_prefix)
    port = settings.exporter_port
    topic = settings.topic("email")
    part_one, part_two = dataset(int(time.time()))
    logs = lambda: log_tail(tmp_path)  # noqa: E731

    def accepted() -> float:
        return total(samples(scrape(port)), "pulse_events_total", topic=topic)

    with pulse_process("exporter", settings, tmp_path), pulse_process("worker", settings, tmp_path):
        asyncio.run(produce(kafka.bootstrap, topic, part_one))
        wait_for(lambda: accepted() >= 12, 90, "part one", logs)
        asyncio.run(produce(kafka.bootstrap, topic, part_two))
        wait_for(lambda: accepted() >= ACCEPTED, 60, "all events", logs)
        wait_for(
            lambda: total(samples(scrape(port)), "pulse_events_rejected_total", topic=topic) >= 2,
            30,
            "both rejections",
            logs,
        )
        time.sleep(1.0)  # anything still in flight would show up as a mismatch below
        text = scrape(port)

    found = samples(text)
    # opens of a1 a2 a4 b1 b4; a1's second copy is a duplicate
    assert value(found, "pulse_events_total", topic=topic, type="email.opened") == 5
    assert value(found, "pulse_events_duplicate_total", topic=topic) == 1
    assert value(found, "pulse_events_rejected_total", topic=topic, reason="invalid_json") == 1
    assert value(found, "pulse_events_rejected_total", topic=topic, reason="missing_field") == 1
    for (window, campaign), expected in COUNTS.items():
        for name, number in zip(NAMES + NAMES_2, expected, strict=True):
            metric = _metric(name, campaign)
            got = value(found, metric, **_labels(window, campaign))
            assert got == number, f"{metric}[{window}, {campaign}] = {got}, expected {number}"
    for (window, campaign), ratios in RATIOS.items():
        for name, (numerator, denominator) in ratios.items():
            labels = _labels(window, campaign)
            got = value(found, _metric(name, campaign), **labels)
            assert got == pytest.approx(numerator / denominator), f"{name}[{window}, {campaign}] = {got}"
            assert value(found, _metric(f"{name}_sample_size", campaign), **labels) == denominator
    # winback in 5m: b3 was dropped, b2 delivered: no message clicked or opened -> CTOR has no sample
    assert value(found, "pulse_email_campaign_click_to_open_ratio", **_labels("5m", "winback")) is None
    bounce = {"window": "1h", "property": "mail"}
    assert value(found, "pulse_email_bounced_by_type", **bounce, bounce_type="soft") == 1  # a3
    assert value(found, "pulse_email_bounced_by_type", **bounce, bounce_type="hard") == 0
    assert value(found, "pulse_up") == 1
    promtool_check(promtool, text)
