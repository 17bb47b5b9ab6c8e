"""The social family's response to inbound conversations: response time and rate revised as
events arrive, any arrival order, replies without an inbound, no ids in the conversation state,
and the reply pruning and contribution underneath.

Times are seconds before N (= NOW_S, an exact hour), as in tests/unit/test_social_family.py,
with which they share `make_social`, `get` and the event builders (tests/unit/social_support.py).
"""

from __future__ import annotations

import pytest

from metrics_core.families.changes import Changes
from metrics_core.families.social import MAX_REPLIES, Conversation, contribute, prune_replies
from tests.unit.conftest import NOW_MS, Scrape
from tests.unit.social_support import get, inbound, make_social, reply

# --- response to inbound conversations

# C1: inbound N-600, replies N-480 and N-300: 120 s (the second reply is ignored)
# C2: its reply (N-150) arrives first; its inbound (N-200) in batch 2: 50 s
# C3: inbound N-100, never answered
# C4: a reply (N-1000) BEFORE the inbound (N-900), then a reply at N-800: 100 s
# C5: inbound N-250 answered at N-240 (10 s); batch 2 brings an earlier inbound at N-2000,
#     so it is anchored there and answered 1 760 s later
BATCH_1 = [
    inbound("c1-in", 600, "c1"),
    reply("c1-r1", 480, "c1"),
    reply("c1-r2", 300, "c1"),
    reply("c2-r1", 150, "c2"),
    inbound("c3-in", 100, "c3"),
    reply("c4-r0", 1000, "c4"),
    inbound("c4-in", 900, "c4"),
    reply("c4-r1", 800, "c4"),
    inbound("c5-in", 250, "c5"),
    reply("c5-r1", 240, "c5"),
]
BATCH_2 = [
    inbound("c2-in", 200, "c2"),
    inbound("c5-in0", 2000, "c5"),
    reply("c1-r2", 300, "c1"),  # a duplicate
    reply("c1-r3", 30, "c1"),  # a third reply: ignored
]
# window -> inbound, replied, mean response s
AFTER_1 = {
    "5m": (2, 1, 10.0),  # C3, C5; C5 answered in 10 s
    "1h": (4, 3, 230 / 3),  # C1, C3, C4, C5; (120 + 100 + 10) / 3
}
AFTER_2 = {
    "5m": (2, 1, 50.0),  # C2, C3 (C5 moved to N-2000); C2 answered in 50 s
    "1h": (5, 4, 507.5),  # all five; (120 + 50 + 100 + 1760) / 4 = 2030 / 4
}


def _response(scrape: Scrape, window: str) -> tuple[float | None, ...]:
    return tuple(
        get(scrape, name, window, platform="x")
        for name in (
            "pulse_social_inbound_conversations",
            "pulse_social_replied_conversations",
            "pulse_social_response_seconds",
        )
    )


async def test_response_time_and_rate_revised_as_events_arrive() -> None:
    pulse = make_social()
    await pulse.feed(*BATCH_1)
    first = pulse.scrape()
    for window, expected in AFTER_1.items():
        assert _response(first, window) == pytest.approx(expected), window
    assert get(first, "pulse_social_response_ratio", "5m", platform="x") == 0.5  # 1 / 2
    outcome = await pulse.feed(*BATCH_2)
    assert (outcome.applied, outcome.duplicates) == (3, 1)
    second = pulse.scrape()
    for window, expected in AFTER_2.items():
        assert _response(second, window) == pytest.approx(expected), window
    assert get(second, "pulse_social_response_ratio", "1h", platform="x") == 0.8  # 4 / 5
    assert get(second, "pulse_social_response_ratio_sample_size", "1h", platform="x") == 5
    assert get(second, "pulse_social_response_ratio_lower", "1h", platform="x") is not None


async def test_any_arrival_order_gives_the_same_counts() -> None:
    in_order = make_social()
    await in_order.feed(*BATCH_1, *BATCH_2)
    expected = {w: _response(in_order.scrape(), w) for w in ("5m", "1h", "24h")}
    events = [e for e in BATCH_1 + BATCH_2 if e is not BATCH_2[2]]
    for order in (list(reversed(events)), events[1::2] + events[::2]):
        one_by_one = make_social()
        for value in order:
            await one_by_one.feed(value)
        assert {w: _response(one_by_one.scrape(), w) for w in expected} == expected


async def test_replies_without_inbound_count_nothing() -> None:
    pulse = make_social()
    await pulse.feed(reply("r1", 100, "lonely"), reply("r2", 50, "lonely"))
    scrape = pulse.scrape()
    assert scrape.names("pulse_social_inbound_conversations") == []
    assert scrape.names("pulse_social_response_ratio_sample_size") == []


async def test_conversation_state_holds_no_ids() -> None:
    pulse = make_social()
    await pulse.feed(inbound("p1", 100, "ann@example.com-thread"), reply("p2", 40, "ann@example.com-thread"))
    dumped = repr(vars(pulse.store))
    assert "ann@example.com" not in dumped
    assert get(pulse.scrape(), "pulse_social_response_seconds", "5m", platform="x") == 60.0  # 100 − 40


def test_prune_replies_keeps_what_can_still_be_the_first_reply() -> None:
    # inbound at 100: 120 is the first reply, 300 can never be; 50 may answer an earlier inbound
    assert prune_replies([300, 120, 50], 100, 0) == (50, 120)
    # at or before the horizon (60) a reply can only answer a late inbound: dropped
    assert prune_replies([60, 61, 500], None, 60) == (61, 500)
    # capped: 25 replies 1..25 before an inbound at 100 and one after it (150): the first
    # reply and the latest MAX_REPLIES − 1 = 19 before the inbound (7..25) are kept
    kept = prune_replies([*range(1, 26), 150, 200], 100, 0)
    assert kept == (*range(7, 26), 150) and len(kept) == MAX_REPLIES
    # without an inbound, the earliest MAX_REPLIES
    assert prune_replies(list(range(1, 31)), None, 0) == tuple(range(1, 21))


def test_contribution_is_anchored_to_the_inbound() -> None:
    changes = Changes()
    contribute(Conversation(NOW_MS - 90_000, "x", "shop", (NOW_MS - 95_000, NOW_MS - 30_000)), +1, changes)
    second = (NOW_MS - 90_000) // 1000
    assert changes.counts == {
        (second, "ri\x1fshop\x1fx"): 1,
        (second, "rr\x1fshop\x1fx"): 1,
        (second, "rt\x1fshop\x1fx"): 60_000,  # (N-30 s) − (N-90 s)
    }
