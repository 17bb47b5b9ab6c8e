"""The email family, message by message: once per message, bots and machine opens, zero
denominators, the campaign cap, no personal data, properties, and the family's state alone.

Times are seconds before N (= NOW_S, an exact hour), as in tests/unit/test_email_family.py,
with which they share `mail` and `mailer` (tests/unit/email_support.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from metrics_core.batch import classify
from metrics_core.families.base import Context
from metrics_core.families.changes import Changes
from metrics_core.families.email import EmailFamily, Message, message_key
from metrics_core.labels import LabelCap
from metrics_core.routing import routing_key
from metrics_core.store.base import ShardId
from metrics_core.store.memory import MemoryStore
from tests.unit.conftest import NOW_MS, SESSION_TIMEOUT_MS, records
from tests.unit.conftest import parse as parse_scrape
from tests.unit.conftest import scrape_text as render
from tests.unit.email_support import RETENTION_MS, N, mail, mailer

# --- once per message, machine opens and bots


async def test_a_second_open_counts_once() -> None:
    pulse = mailer()
    await pulse.feed(mail("sent", "s", 100, "m", "c"), mail("opened", "o1", 90, "m", "c"))
    await pulse.feed(mail("opened", "o2", 80, "m", "c"), mail("opened", "o3", 70, "m", "c"))
    assert pulse.email("opened", "5m") == 1
    assert pulse.email("open_ratio", "5m") == 1.0  # 1 opened / 1 delivered (implied by the open)


async def test_machine_opens_are_not_human_opens() -> None:
    pulse = mailer()
    await pulse.feed(
        mail("sent", "s1", 100, "m1", "c"),
        mail("opened", "o1", 90, "m1", "c", machine=True),
        mail("sent", "s2", 100, "m2", "c"),
        mail("opened", "o2", 90, "m2", "c", machine=True),
    )
    assert pulse.email("opened", "5m") == 2
    assert pulse.email("human_opened", "5m") == 0
    assert pulse.email("human_open_ratio", "5m") == 0.0  # 0 / 2 delivered
    await pulse.feed(mail("opened", "o3", 60, "m2", "c", machine=False))
    assert pulse.email("opened", "5m") == 2
    assert pulse.email("human_opened", "5m") == 1
    assert pulse.email("human_open_ratio", "5m") == 0.5  # 1 / 2


async def test_bot_clicks_are_not_clicks() -> None:
    pulse = mailer()
    await pulse.feed(mail("sent", "s", 100, "m", "c"), mail("clicked", "k1", 90, "m", "c", bot=True))
    assert pulse.email("delivered", "5m") == 1  # a scanner fetched it: it was delivered
    assert pulse.email("clicked", "5m") == 0
    assert pulse.email("opened", "5m") == 0
    assert pulse.email("click_through_ratio", "5m") == 0.0  # 0 / 1
    assert pulse.email("click_to_open_ratio", "5m") is None  # 0 opened
    await pulse.feed(mail("clicked", "k2", 80, "m", "c"))
    assert pulse.email("clicked", "5m") == 1
    assert pulse.email("click_through_ratio", "5m") == 1.0
    assert pulse.email("click_to_open_ratio", "5m") == 1.0  # the click implies the open


async def test_most_severe_bounce_type_wins() -> None:
    pulse = mailer()
    await pulse.feed(
        mail("sent", "s1", 100, "m1", "c"),
        mail("bounced", "b1", 90, "m1", "c", bounce_type="soft"),
        mail("sent", "s2", 100, "m2", "c"),
        mail("bounced", "b2", 90, "m2", "c"),  # no type: unknown
    )
    await pulse.feed(mail("bounced", "b3", 80, "m1", "c", bounce_type="hard"))
    scrape = pulse.scrape()
    got = {
        t: scrape.web("pulse_email_bounced_by_type", "5m", bounce_type=t) for t in ("hard", "soft", "unknown")
    }
    assert got == {"hard": 1, "soft": 0, "unknown": 1}
    assert pulse.email("bounced", "5m") == 2
    assert pulse.email("bounce_ratio", "5m") == 1.0  # 2 / 2


# --- zero denominators and quiet windows


async def test_zero_denominators_are_not_exported() -> None:
    pulse = mailer()
    await pulse.feed(mail("sent", "s", 100, "m", "c"), mail("bounced", "b", 90, "m", "c"))
    scrape = pulse.scrape()
    assert pulse.email("bounce_ratio", "5m") == 1.0  # 1 / 1
    assert pulse.email("delivery_ratio", "5m") == 0.0  # 0 / 1
    for name in ("open_ratio", "click_through_ratio", "conversion_ratio", "click_to_open_ratio"):
        assert pulse.email(name, "5m") is None, name
        assert pulse.email(f"{name}_sample_size", "5m") == 0, name
        assert pulse.email(f"{name}_lower", "5m") is None, name
    assert scrape.names("pulse_email_open_ratio") == []
    assert "\npulse_email_open_ratio{" not in scrape.text  # no sample line (HELP/TYPE only)
    assert "# TYPE pulse_email_open_ratio gauge" in scrape.text


async def test_a_quiet_window_exports_zeros() -> None:
    pulse = mailer()
    await pulse.feed(mail("sent", "s", 3000, "m", "c"), mail("delivered", "d", 2990, "m", "c"))
    assert pulse.email("sent", "5m") == 0
    assert pulse.email("campaign_sent", "5m", campaign="c") == 0
    assert pulse.email("delivery_ratio", "5m") is None
    assert pulse.email("delivery_ratio_sample_size", "5m") == 0
    assert pulse.email("delivery_ratio", "1h") == 1.0


# --- labels, state and properties


async def test_campaign_cap_folds_into_other() -> None:
    pulse = mailer(label_cap=1)
    await pulse.feed(
        mail("sent", "s1", 100, "m1", "a"),
        mail("sent", "s2", 90, "m2", "a"),
        mail("sent", "s3", 80, "m3", "b"),
        mail("sent", "s4", 70, "m4", "c"),
    )
    # the shard admits one campaign value ("a", first seen); b and c fold into __other__
    assert pulse.email("campaign_sent", "5m", campaign="a") == 2
    assert pulse.email("campaign_sent", "5m", campaign="__other__") == 2
    assert pulse.email("sent", "5m") == 4  # overall counts sum over campaigns: folding changes nothing


async def test_exporter_cap_keeps_the_heaviest_campaigns() -> None:
    pulse = mailer()
    await pulse.feed(
        mail("sent", "s1", 100, "m1", "b"),
        mail("sent", "s2", 90, "m2", "a"),
        mail("sent", "s3", 80, "m3", "a"),
        mail("sent", "s4", 70, "m4", "c"),
    )
    scrape = pulse.scrape(label_cap=1)  # a (2 sent) is kept; b and c (1 each) fold: 2
    assert scrape.web("pulse_email_campaign_sent", "5m", campaign="a") == 2
    assert scrape.web("pulse_email_campaign_sent", "5m", campaign="__other__") == 2
    assert scrape.web("pulse_email_campaign_sent", "5m", campaign="b") is None


async def test_no_personal_data_in_state_keys_or_labels() -> None:
    pulse = mailer()
    await pulse.feed(
        mail("sent", "s", 100, "ann@example.com", "ann@example.com", recipient_id="ann@example.com"),
        mail("opened", "o", 90, "ann@example.com", "ann@example.com"),
    )
    shard = pulse.store._shards[ShardId("email", 0)]
    blob = repr(shard.states) + repr(dict(shard.counters)) + repr(dict(shard.labels))
    assert "ann" not in blob and "example" not in blob
    assert pulse.email("campaign_opened", "5m", campaign="<email>") == 1


async def test_properties_are_kept_apart() -> None:
    pulse = mailer()
    await pulse.feed(
        mail("sent", "s1", 100, "m", "c", property="shop"),
        mail("sent", "s2", 100, "m", "c", property="blog"),  # the same message id, another property
        mail("opened", "o1", 90, "m", "c", property="shop"),
    )
    assert pulse.email("open_ratio", "5m", "shop") == 1.0  # 1 / 1 (the open implies delivery)
    assert pulse.email("sent", "5m", "blog") == 1
    assert pulse.email("opened", "5m", "blog") == 0
    assert pulse.email("open_ratio", "5m", "blog") is None  # blog's message: sent, not delivered
    assert pulse.email("sent", "5m") is None  # nothing in "default"


# --- the family alone: state and its expiry


def _apply(values: Sequence[bytes], states: dict[str, bytes | None] | None = None) -> Changes:
    plan = classify(records(values), "email", 0, None, NOW_MS, RETENTION_MS, 65_536, routing_key)
    events = [e for _, e in plan.events]
    changes = Changes()
    ctx = Context(NOW_MS, RETENTION_MS, SESSION_TIMEOUT_MS, LabelCap(500))
    EmailFamily().apply(events, states or {}, ctx, changes)
    return changes


def test_state_expires_with_the_anchor() -> None:
    changes = _apply([mail("opened", "o", 100, "m", "c"), mail("sent", "s", 400, "m", "c")])
    [(_, (raw, expire_at))] = changes.states.items()
    assert raw is not None
    assert Message.from_json(raw).anchor_ms == (N - 400) * 1000
    assert expire_at == (N - 400) * 1000 + RETENTION_MS  # anchor + 25 h
    assert b'"m"' not in raw  # the message id is not stored


def test_state_without_anchor_expires_after_its_first_event() -> None:
    changes = _apply([mail("opened", "o", 100, "m", "c"), mail("clicked", "k", 50, "m", "c")])
    [(_, (_, expire_at))] = changes.states.items()
    assert expire_at == (N - 100) * 1000 + RETENTION_MS
    assert not changes.counts  # no anchor, no counts


def test_revision_retracts_at_the_old_anchor() -> None:
    first = _apply([mail("delivered", "d", 200, "m", "c")])
    states = {key: raw for key, (raw, _) in first.states.items()}
    second = _apply([mail("sent", "s", 400, "m", "c")], states)
    moved = {(second_s - N, name.split("\x1f")[0]): n for (second_s, name), n in second.counts.items() if n}
    # delivered at N-200 counted sn and dl; the send moves both to N-400
    assert moved == {(-200, "sn"): -1, (-200, "dl"): -1, (-400, "sn"): 1, (-400, "dl"): 1}


def test_state_key_hashes_the_message() -> None:
    values = [mail("sent", "s", 100, "msg-1", "c", property="shop")]
    plan = classify(records(values), "email", 0, None, NOW_MS, RETENTION_MS, 65_536, routing_key)
    [(_, ev)] = plan.events
    assert EmailFamily().state_keys([ev]) == {message_key(ev)}
    assert "msg-1" not in message_key(ev) and len(message_key(ev)) == 24


def test_state_round_trips() -> None:
    m = Message("shop", "c", (0, 5), 1, 5, 7, frozenset({"dl", "bo"}), "hard")
    assert Message.from_json(m.to_json()) == m
    assert orjson.loads(m.to_json())[6] == ["bo", "dl"]


def test_render_is_stable_for_an_empty_store() -> None:
    scrape = parse_scrape(render(MemoryStore()))
    assert scrape.names("pulse_email_sent") == []
