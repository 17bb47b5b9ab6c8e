"""The email family on the pure path: classify -> Applier(EmailFamily) -> MemoryStore -> PulseCollector.

Times are seconds before N (= NOW_S, an exact hour). Windows 5m (N-300, N], 1h (N-3600, N],
24h; no anchor sits within a bucket of a window edge, so no blur is involved. Every count is
of messages, at the message's anchor: its `sent` time, else its `delivered` time.
"""

from __future__ import annotations

import itertools

import pytest

from metrics_core.store.base import ShardId
from tests.unit.conftest import Scrape
from tests.unit.email_support import MailHarness, mail, mailer

# --- the dataset: 10 messages over two campaigns, sent in three scrambled batches
#   m1 spring  sent N-3000, delivered, human open twice, human click     (1h, 24h only)
#   m2 spring  machine open first; delivered N-250; sent N-260 last      (anchor moves to N-260)
#   m3 spring  sent N-100, hard bounce
#   m4 spring  sent N-120, delivered, a bot click only
#   m5 spring  delivered N-150 (no sent event), human open, unsubscribe  (anchored at N-150)
#   m6 fall    sent N-240, delivered, spam report
#   m7 fall    human click and conversion first; sent N-280, delivered   (a click implies an open)
#   m8 fall    sent N-7200, delivered                                    (24h only)
#   m9 fall    sent N-30, dropped
#   m10 fall   an open only: no anchor, never counts
BATCH_1 = [
    mail("opened", "o2", 200, "m2", "spring", machine=True),
    mail("opened", "o1a", 2000, "m1", "spring"),
    mail("clicked", "k7", 60, "m7", "fall", url="https://shop.example/x"),
    mail("converted", "v7", 40, "m7", "fall", value=30),
    mail("sent", "s3", 100, "m3", "spring", recipient_id="r3"),
    mail("bounced", "b3", 95, "m3", "spring", bounce_type="hard"),
    mail("opened", "o10", 10, "m10", "fall"),
    mail("delivered", "d5", 150, "m5", "spring"),
    mail("opened", "o5", 140, "m5", "spring", machine=False),
    mail("unsubscribed", "u5", 130, "m5", "spring", scope="global"),
    b"not json {",
]
BATCH_2 = [
    mail("delivered", "d2", 250, "m2", "spring"),
    mail("sent", "s1", 3000, "m1", "spring"),
    mail("delivered", "d1", 2990, "m1", "spring"),
    mail("clicked", "k1", 1900, "m1", "spring", bot=False),
    mail("opened", "o1b", 1000, "m1", "spring"),  # a second open: the message counts once
    mail("opened", "o1a", 2000, "m1", "spring"),  # a duplicate event_id: dropped before the family
    mail("sent", "s4", 120, "m4", "spring"),
    mail("delivered", "d4", 118, "m4", "spring"),
    mail("clicked", "k4", 110, "m4", "spring", bot=True),
    mail("sent", "s6", 240, "m6", "fall"),
    mail("delivered", "d6", 230, "m6", "fall"),
    mail("spam_reported", "p6", 50, "m6", "fall"),
    mail("sent", "s7", 280, "m7", "fall"),
    mail("delivered", "d7", 270, "m7", "fall"),
    mail("sent", "s8", 7200, "m8", "fall"),
    mail("delivered", "d8", 7190, "m8", "fall"),
    mail("sent", "s9", 30, "m9", "fall"),
    mail("dropped", "x9", 29, "m9", "fall"),
]
BATCH_3 = [mail("sent", "s2", 260, "m2", "spring")]


@pytest.fixture
async def dataset() -> MailHarness:
    pulse = mailer()
    first = await pulse.feed(*BATCH_1)
    assert (first.applied, first.rejected, first.duplicates) == (10, 1, 0)
    second = await pulse.feed(*BATCH_2)
    assert (second.applied, second.duplicates) == (17, 1)
    assert (await pulse.feed(*BATCH_3)).applied == 1
    return pulse


COUNT_NAMES = (
    "sent",
    "delivered",
    "bounced",
    "dropped",
    "opened",
    "human_opened",
    "clicked",
    "unsubscribed",
    "spam_complaints",
    "conversions",
)

# Messages per window (anchors in the window), in COUNT_NAMES order.
COUNTS = {
    # 5m: spring m2 m3 m4 m5, fall m6 m7 m9
    "5m": {
        # sent m2 m3 m4 m5(delivered implies sent); delivered m2 m4 m5; bounced m3; opened m2 (machine)
        # and m5, human m5 only; m4's bot click counts nowhere; unsubscribed m5
        "spring": (4, 3, 1, 0, 2, 1, 0, 1, 0, 0),
        # sent m6 m7 m9; delivered m6 m7; dropped m9; m7's click implies a (human) open; spam m6
        "fall": (3, 2, 0, 1, 1, 1, 1, 0, 1, 1),
        "all": (7, 5, 1, 1, 3, 2, 1, 1, 1, 1),
    },
    # 1h: + m1 (spring: sent, delivered, opened, human opened, clicked)
    "1h": {
        "spring": (5, 4, 1, 0, 3, 2, 1, 1, 0, 0),
        "fall": (3, 2, 0, 1, 1, 1, 1, 0, 1, 1),
        "all": (8, 6, 1, 1, 4, 3, 2, 1, 1, 1),
    },
    # 24h: + m8 (fall: sent, delivered)
    "24h": {
        "spring": (5, 4, 1, 0, 3, 2, 1, 1, 0, 0),
        "fall": (4, 3, 0, 1, 1, 1, 1, 0, 1, 1),
        "all": (9, 7, 1, 1, 4, 3, 2, 1, 1, 1),
    },
}

# ratio -> (numerator, denominator) by hand from COUNTS
RATIOS = {
    "5m": {
        "all": {
            "delivery_ratio": (5, 7),
            "bounce_ratio": (1, 7),
            "open_ratio": (3, 5),
            "human_open_ratio": (2, 5),
            "click_through_ratio": (1, 5),
            "click_to_open_ratio": (1, 3),
            "unsubscribe_ratio": (1, 5),
            "spam_complaint_ratio": (1, 5),
            "conversion_ratio": (1, 5),
        },
        "spring": {
            "delivery_ratio": (3, 4),
            "bounce_ratio": (1, 4),
            "open_ratio": (2, 3),
            "human_open_ratio": (1, 3),  # m2's machine open is not human
            "click_through_ratio": (0, 3),  # m4's bot click is not a click
            "click_to_open_ratio": (0, 2),
            "unsubscribe_ratio": (1, 3),
            "spam_complaint_ratio": (0, 3),
            "conversion_ratio": (0, 3),
        },
        "fall": {
            "delivery_ratio": (2, 3),
            "bounce_ratio": (0, 3),
            "open_ratio": (1, 2),
            "human_open_ratio": (1, 2),
            "click_through_ratio": (1, 2),
            "click_to_open_ratio": (1, 1),
            "unsubscribe_ratio": (0, 2),
            "spam_complaint_ratio": (1, 2),
            "conversion_ratio": (1, 2),
        },
    },
    "1h": {
        "all": {
            "delivery_ratio": (6, 8),  # 0.75
            "bounce_ratio": (1, 8),  # 0.125
            "open_ratio": (4, 6),
            "human_open_ratio": (3, 6),  # 0.5
            "click_through_ratio": (2, 6),
            "click_to_open_ratio": (2, 4),  # 0.5
            "unsubscribe_ratio": (1, 6),
            "spam_complaint_ratio": (1, 6),
            "conversion_ratio": (1, 6),
        },
        "spring": {
            "delivery_ratio": (4, 5),
            "bounce_ratio": (1, 5),
            "open_ratio": (3, 4),
            "human_open_ratio": (2, 4),
            "click_through_ratio": (1, 4),
            "click_to_open_ratio": (1, 3),
            "unsubscribe_ratio": (1, 4),
            "spam_complaint_ratio": (0, 4),
            "conversion_ratio": (0, 4),
        },
    },
    "24h": {
        "fall": {
            "delivery_ratio": (3, 4),
            "open_ratio": (1, 3),
            "spam_complaint_ratio": (1, 3),
        },
    },
}


def _name(base: str, campaign: str) -> tuple[str, dict[str, str]]:
    if campaign == "all":
        return base, {}
    return f"campaign_{base}", {"campaign": campaign}


@pytest.mark.parametrize("window", ["5m", "1h", "24h"])
async def test_counts_overall_and_per_campaign(dataset: MailHarness, window: str) -> None:
    scrape = dataset.scrape()
    for campaign, expected in COUNTS[window].items():
        for base, number in zip(COUNT_NAMES, expected, strict=True):
            name, labels = _name(base, campaign)
            assert scrape.web(f"pulse_email_{name}", window, **labels) == number, (name, campaign)


@pytest.mark.parametrize("window", ["5m", "1h", "24h"])
async def test_ratios_overall_and_per_campaign(dataset: MailHarness, window: str) -> None:
    scrape = dataset.scrape()
    for campaign, ratios in RATIOS[window].items():
        for base, (numerator, denominator) in ratios.items():
            name, labels = _name(base, campaign)
            got = scrape.web(f"pulse_email_{name}", window, **labels)
            assert got == pytest.approx(numerator / denominator), (name, campaign)
            size = scrape.web(f"pulse_email_{name}_sample_size", window, **labels)
            assert size == denominator, (name, campaign)


async def test_wilson_interval_of_a_ratio(dataset: MailHarness) -> None:
    # bounce ratio, 1h: 1 of 8. z = 1.96, z² = 3.8415; p = 0.125
    # centre = p + z²/2n = 0.125 + 0.24009 = 0.36509
    # margin = z·sqrt(p(1-p)/n + z²/4n²) = 1.96·sqrt(0.013672 + 0.015006) = 1.96·0.16935 = 0.33191
    # scale = 1 + z²/n = 1.48018 -> lower 0.03318/1.48018 = 0.02242, upper 0.69700/1.48018 = 0.47089
    scrape = dataset.scrape()
    assert scrape.web("pulse_email_bounce_ratio_lower", "1h") == pytest.approx(0.02242, abs=1e-5)
    assert scrape.web("pulse_email_bounce_ratio_upper", "1h") == pytest.approx(0.47089, abs=1e-5)


async def test_bounces_by_type(dataset: MailHarness) -> None:
    scrape = dataset.scrape()
    for window in ("5m", "1h", "24h"):
        got = {t: scrape.web("pulse_email_bounced_by_type", window, bounce_type=t) for t in ("hard", "soft")}
        assert got == {"hard": 1, "soft": 0}  # m3


async def test_campaigns_shown_in_every_window(dataset: MailHarness) -> None:
    scrape = dataset.scrape()
    shown = {(s["window"], s["campaign"]) for s in scrape.names("pulse_email_campaign_sent")}
    assert shown == {(w, c) for w in ("5m", "1h", "24h") for c in ("spring", "fall")}


async def test_a_message_without_anchor_never_counts(dataset: MailHarness) -> None:
    # m10 has only an open (N-10): the 5m counts above leave it out; its state waits for an anchor
    state = dataset.store._shards[ShardId("email", 0)].states
    assert len(state) == 10  # m1..m10
    scrape = dataset.scrape()
    assert scrape.web("pulse_email_opened", "5m") == 3  # m2, m5, m7 (not m10)


async def test_pipeline_counts(dataset: MailHarness) -> None:
    scrape = dataset.scrape()
    assert scrape.value("pulse_events_total", topic="email", type="email.opened") == 5  # o1a o1b o2 o5 o10
    assert scrape.value("pulse_events_duplicate_total", topic="email") == 1
    assert scrape.value("pulse_events_rejected_total", topic="email", reason="invalid_json") == 1


# --- anchoring and arrival order


async def test_open_before_sent_moves_the_anchor() -> None:
    pulse = mailer()
    await pulse.feed(mail("opened", "o", 10, "m", "c"))
    assert pulse.email("sent", "5m") is None  # no anchor: nothing counted, the property unknown
    await pulse.feed(mail("delivered", "d", 200, "m", "c"))
    # anchored at delivery (N-200): in 5m; the delivery implies the send
    assert [pulse.email(n, "5m") for n in ("sent", "delivered", "opened", "open_ratio")] == [1, 1, 1, 1.0]
    await pulse.feed(mail("sent", "s", 400, "m", "c"))
    # the send (N-400) is outside 5m: everything moves with the anchor into 1h only
    assert [pulse.email(n, "5m") for n in ("sent", "delivered", "opened")] == [0, 0, 0]
    assert pulse.email("open_ratio", "5m") is None
    assert pulse.email("open_ratio_sample_size", "5m") == 0
    assert [pulse.email(n, "1h") for n in ("sent", "delivered", "opened", "open_ratio")] == [1, 1, 1, 1.0]


MESSAGE = [
    mail("clicked", "k", 100, "m", "promo-b"),  # a human click: implies a (human) open
    mail("opened", "o", 300, "m", "promo-b", machine=True),
    mail("delivered", "d", 390, "m", "promo-b"),
    mail("sent", "s", 400, "m", "promo-a"),  # the sent event's campaign wins
]


def _email_samples(scrape: Scrape) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {k: v for k, v in scrape.samples.items() if k[0].startswith("pulse_email_")}


async def test_any_arrival_order_gives_the_same_values() -> None:
    # anchor N-400 (1h, not 5m): sent 1, delivered 1, opened 1, human opened 1 (the click), clicked 1
    results = []
    for order in itertools.permutations(MESSAGE):
        pulse = mailer()
        for value in order:
            await pulse.feed(value)
        results.append(_email_samples(pulse.scrape()))
    assert all(r == results[0] for r in results)
    scrape = pulse.scrape()
    for name in ("campaign_sent", "campaign_delivered", "campaign_opened", "campaign_clicked"):
        assert pulse.email(name, "1h", campaign="promo-a") == 1
        assert pulse.email(name, "5m", campaign="promo-a") == 0
    assert pulse.email("campaign_human_open_ratio", "1h", campaign="promo-a") == 1.0
    assert pulse.email("campaign_click_to_open_ratio", "1h", campaign="promo-a") == 1.0
    assert scrape.names("pulse_email_campaign_sent") == [
        {"window": w, "property": "default", "campaign": "promo-a"} for w in ("5m", "1h", "24h")
    ]


async def test_all_in_one_batch_equals_one_by_one() -> None:
    together = mailer()
    await together.feed(*MESSAGE)
    apart = mailer()
    for value in MESSAGE:
        await apart.feed(value)
    assert _email_samples(together.scrape()) == _email_samples(apart.scrape())


async def test_campaign_of_the_earliest_event_without_a_sent() -> None:
    pulse = mailer()
    await pulse.feed(mail("opened", "o", 100, "m", "later"))
    await pulse.feed(mail("delivered", "d", 200, "m", "earlier"))  # N-200 is earlier than N-100
    assert pulse.email("campaign_opened", "5m", campaign="earlier") == 1
    assert pulse.email("campaign_opened", "5m", campaign="later") is None


async def test_delivered_only_message_is_anchored_at_delivery() -> None:
    pulse = mailer()
    await pulse.feed(mail("delivered", "d", 100, "m", "c"), mail("opened", "o", 50, "m", "c"))
    assert pulse.email("sent", "5m") == 1  # delivered implies sent
    assert pulse.email("delivered", "5m") == 1
    assert pulse.email("delivery_ratio", "5m") == 1.0  # 1 / 1
    assert pulse.email("open_ratio", "5m") == 1.0


# --- replays


async def test_a_replayed_batch_changes_nothing(dataset: MailHarness) -> None:
    before = _email_samples(dataset.scrape())
    outcome = await dataset.apply(dataset.plan(BATCH_2, first_offset=len(BATCH_1)))
    assert outcome.fenced
    assert _email_samples(dataset.scrape()) == before
