"""The social family on the pure path: classify -> Applier -> MemoryStore -> PulseCollector.

Interactions and engagement, share of voice, followers, and labels and properties. Times are
seconds before N (= NOW_S, an exact hour); windows 5m, 1h, 24h (retention 25 h).
The 5m window is (N-300, N], 1h (N-3600, N], 24h (N-86400, N]; no counted event sits within
a bucket (5 s, 60 s, 20 min) of an edge, so no blur is involved. The response to inbound
conversations is in tests/unit/test_social_conversations.py; the helpers are shared in
tests/unit/social_support.py.
"""

from __future__ import annotations

import pytest

from metrics_core.families.base import Context
from metrics_core.families.changes import Changes
from metrics_core.families.social import SocialFamily
from metrics_core.labels import LabelCap
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import retention_ms
from tests.unit.conftest import HOUR_S, NOW_MS, WINDOWS
from tests.unit.social_support import get, inbound, make_social, reply, social

KINDS = ("likes", "comments", "shares", "saves", "clicks")


# --- interactions and engagement

INTERACTIONS = [
    social("like", "l1", 100, count=5),
    social("unlike", "u1", 90, count=2),
    social("like", "l2", 1000),  # count defaults to 1; 1h only
    social("comment", "c1", 50, count=3),
    social("share", "s1", 40),
    social("save", "v1", 2000, count=2),  # 1h only
    social("click", "k1", 30, count=4),
    social("impression", "i1", 200, count=100),
    social("impression", "i2", 1500, count=50),  # 1h only
    social("like", "l3", 70, "x"),
    social("unlike", "u2", 60, "x", count=3),  # net likes on x: 1 − 3 = −2
    social("impression", "i3", 60, "x", count=10),
    social("comment", "c2", 2 * HOUR_S, "x", count=7),  # 24h only
    social("comment", "c3", 20, "tiktok"),  # no impressions at all
]

# (platform, window) -> interactions by kind, impressions
EXPECTED_INTERACTIONS = {
    ("instagram", "5m"): ({"likes": 3, "comments": 3, "shares": 1, "saves": 0, "clicks": 4}, 100),  # 5 − 2
    ("instagram", "1h"): ({"likes": 4, "comments": 3, "shares": 1, "saves": 2, "clicks": 4}, 150),
    ("x", "5m"): ({"likes": -2, "comments": 0, "shares": 0, "saves": 0, "clicks": 0}, 10),
    ("x", "24h"): ({"likes": -2, "comments": 7, "shares": 0, "saves": 0, "clicks": 0}, 10),
}
EXPECTED_ENGAGEMENT = {
    ("instagram", "5m"): 0.11,  # (3 + 3 + 1 + 0 + 4) / 100 = 11 / 100
    ("instagram", "1h"): 14 / 150,  # (4 + 3 + 1 + 2 + 4) / 150 = 0.0933…
    ("x", "5m"): -0.2,  # −2 / 10: more unlikes than likes
    ("x", "24h"): 0.5,  # (−2 + 7) / 10
}


async def test_interactions_net_of_unlikes_and_engagement() -> None:
    pulse = make_social()
    outcome = await pulse.feed(*INTERACTIONS)
    assert outcome.applied == len(INTERACTIONS)
    scrape = pulse.scrape()
    for (platform, window), (by_kind, impressions) in EXPECTED_INTERACTIONS.items():
        for kind, n in by_kind.items():
            got = get(scrape, "pulse_social_interactions", window, platform=platform, kind=kind)
            assert got == n, (platform, window, kind)
        assert get(scrape, "pulse_social_impressions", window, platform=platform) == impressions
        labels = {"platform": platform}
        ratio = get(scrape, "pulse_social_engagement_ratio", window, **labels)
        assert ratio == pytest.approx(EXPECTED_ENGAGEMENT[(platform, window)])
        assert get(scrape, "pulse_social_engagement_ratio_sample_size", window, **labels) == impressions
        assert (
            get(scrape, "pulse_social_engagement_ratio_lower", window, **labels) is None
        )  # not a proportion


async def test_engagement_without_impressions_is_not_exported() -> None:
    pulse = make_social()
    await pulse.feed(*INTERACTIONS)
    scrape = pulse.scrape()
    tiktok = {"platform": "tiktok"}
    assert get(scrape, "pulse_social_interactions", "5m", kind="comments", **tiktok) == 1
    assert get(scrape, "pulse_social_impressions", "5m", **tiktok) == 0
    assert get(scrape, "pulse_social_engagement_ratio", "5m", **tiktok) is None
    assert get(scrape, "pulse_social_engagement_ratio_sample_size", "5m", **tiktok) == 0


async def test_a_quiet_window_exports_zero_counts_for_known_platforms() -> None:
    pulse = make_social()
    await pulse.feed(*INTERACTIONS)
    later = pulse.scrape(NOW_MS + 11 * 60_000)  # the 5m window is (N+360, N+660]: nothing in it
    for kind in KINDS:
        assert get(later, "pulse_social_interactions", "5m", platform="instagram", kind=kind) == 0
    assert get(later, "pulse_social_impressions", "5m", platform="x") == 0
    assert get(later, "pulse_social_engagement_ratio", "5m", platform="x") is None
    # the 1h window is (N-2940, N+660]: it still holds v1 (N-2000)
    assert get(later, "pulse_social_interactions", "1h", platform="instagram", kind="saves") == 2


# --- share of voice

MENTIONS = [
    social("mention", "m1", 10, brand="acme", own=True),
    social("mention", "m2", 20, brand="acme", own=True),
    social("mention", "m3", 30, brand="rival-co", own=False),
    social("mention", "m4", 2000, brand="rival-co", own=False),  # 1h only
    social("mention", "m5", 3000, "x", brand="acme", own=True),  # 1h only; platform is not a label
]


async def test_share_of_voice() -> None:
    pulse = make_social()
    await pulse.feed(*MENTIONS)
    scrape = pulse.scrape()
    assert get(scrape, "pulse_social_mentions", "5m") == 3
    assert get(scrape, "pulse_social_own_mentions", "5m") == 2
    assert get(scrape, "pulse_social_share_of_voice_ratio", "5m") == pytest.approx(2 / 3)
    assert get(scrape, "pulse_social_mentions", "1h") == 5
    assert get(scrape, "pulse_social_own_mentions", "1h") == 3
    assert get(scrape, "pulse_social_share_of_voice_ratio", "1h") == 0.6  # 3 / 5
    assert get(scrape, "pulse_social_share_of_voice_ratio_sample_size", "1h") == 5
    # Wilson 95 % for 3 of 5: z² = 3.8415; centre = 0.6 + 3.8415/10 = 0.98415;
    # margin = 1.96·sqrt(0.24/5 + 3.8415/100) = 0.57617; scale = 1 + 3.8415/5 = 1.76829
    # lower = (0.98415 − 0.57617) / 1.76829 = 0.2307; upper = 1.56032 / 1.76829 = 0.8824
    assert get(scrape, "pulse_social_share_of_voice_ratio_lower", "1h") == pytest.approx(0.2307, abs=1e-4)
    assert get(scrape, "pulse_social_share_of_voice_ratio_upper", "1h") == pytest.approx(0.8824, abs=1e-4)
    # the brand is input only: it is neither a label nor stored
    assert "rival-co" not in scrape.text and "acme" not in scrape.text
    assert "rival-co" not in repr(vars(pulse.store)) and "acme" not in repr(vars(pulse.store))


# --- followers

SNAPSHOTS = [
    social("followers", "f1", 20 * HOUR_S, followers=1000),
    social("followers", "f2", 2 * HOUR_S, followers=1100),
    social("followers", "f3", 1800, followers=1150),
    social("followers", "f4", 60, followers=1200),
    social("follow", "fw1", 100, count=3),
    social("follow", "fw2", 2000),
    social("unfollow", "uf1", 50, count=2),
]


async def test_follower_growth_from_snapshots() -> None:
    pulse = make_social()
    await pulse.feed(*SNAPSHOTS)
    scrape = pulse.scrape()
    ig = {"platform": "instagram"}
    assert get(scrape, "pulse_social_followers", None, **ig) == 1200  # the newest: f4
    assert get(scrape, "pulse_social_followers", "5m", **ig) is None  # a gauge of the present
    # 5m: start N-300 -> f3 (1150); (1200 − 1150) / 1150
    assert get(scrape, "pulse_social_followers_at_window_start", "5m", **ig) == 1150
    assert get(scrape, "pulse_social_follower_growth_ratio", "5m", **ig) == pytest.approx(50 / 1150)
    assert get(scrape, "pulse_social_follower_growth_ratio_sample_size", "5m", **ig) == 1150
    # 1h: start N-3600 -> f2 (1100); (1200 − 1100) / 1100
    assert get(scrape, "pulse_social_followers_at_window_start", "1h", **ig) == 1100
    assert get(scrape, "pulse_social_follower_growth_ratio", "1h", **ig) == pytest.approx(100 / 1100)
    # 24h: start N-86400 has no snapshot at or before it (f1 is N-72000): unknown, not exported
    assert get(scrape, "pulse_social_followers_at_window_start", "24h", **ig) is None
    assert get(scrape, "pulse_social_follower_growth_ratio", "24h", **ig) is None
    assert get(scrape, "pulse_social_follower_growth_ratio_sample_size", "24h", **ig) is None
    # follow events: 5m fw1 (3); 1h + fw2 (1); unfollows uf1 (2) in both
    assert get(scrape, "pulse_social_follows", "5m", **ig) == 3
    assert get(scrape, "pulse_social_follows", "1h", **ig) == 4
    assert get(scrape, "pulse_social_unfollows", "1h", **ig) == 2


async def test_late_snapshots_arriving_out_of_order() -> None:
    pulse = make_social()
    await pulse.feed(*SNAPSHOTS)
    await pulse.feed(
        social("followers", "f0", 24 * HOUR_S + 600, followers=800),  # before the 24h start
        social("followers", "f5", 4000, followers=1050),  # before the 1h start, after f2
        social("followers", "f6", 3000, followers=1120),  # inside 1h: not a start value
    )
    scrape = pulse.scrape()
    ig = {"platform": "instagram"}
    assert get(scrape, "pulse_social_followers", None, **ig) == 1200  # still f4: newest by event time
    assert get(scrape, "pulse_social_follower_growth_ratio", "24h", **ig) == 0.5  # (1200 − 800) / 800
    assert get(scrape, "pulse_social_followers_at_window_start", "1h", **ig) == 1050  # f5 now
    assert get(scrape, "pulse_social_follower_growth_ratio", "1h", **ig) == pytest.approx(150 / 1050)
    assert get(scrape, "pulse_social_follower_growth_ratio", "5m", **ig) == pytest.approx(50 / 1150)


async def test_snapshot_at_the_window_start_and_a_zero_start() -> None:
    pulse = make_social()
    await pulse.feed(
        social("followers", "a1", 300, "x", followers=1180),  # exactly at the 5m start N-300
        social("followers", "a2", 10, "x", followers=1239),
        social("followers", "b1", 2 * HOUR_S, "tiktok", followers=0),
        social("followers", "b2", 10, "tiktok", followers=40),
    )
    scrape = pulse.scrape()
    assert get(scrape, "pulse_social_followers_at_window_start", "5m", platform="x") == 1180
    assert get(scrape, "pulse_social_follower_growth_ratio", "5m", platform="x") == 0.05  # 59 / 1180
    # tiktok started from 0: the start value and a sample size of 0 are exported, no ratio
    assert get(scrape, "pulse_social_followers_at_window_start", "1h", platform="tiktok") == 0
    assert get(scrape, "pulse_social_follower_growth_ratio_sample_size", "1h", platform="tiktok") == 0
    assert get(scrape, "pulse_social_follower_growth_ratio", "1h", platform="tiktok") is None


# --- labels and properties


async def test_properties_are_kept_apart_and_platforms_capped() -> None:
    pulse = make_social(label_cap=2)  # property "default" and one platform fit ... per label
    await pulse.feed(
        social("impression", "i1", 60, "instagram", count=10),
        social("impression", "i2", 50, "x", count=4),
        social("impression", "i3", 40, "tiktok", count=6),  # the third platform folds
        social("followers", "f1", 30, "tiktok", followers=9),  # a folded platform's snapshot is dropped
        social("comment", "c1", 30, "instagram", property="shop"),
    )
    scrape = pulse.scrape()
    assert get(scrape, "pulse_social_impressions", "5m", platform="instagram") == 10
    assert get(scrape, "pulse_social_impressions", "5m", platform="x") == 4
    assert get(scrape, "pulse_social_impressions", "5m", platform="__other__") == 6
    assert scrape.names("pulse_social_followers") == []
    assert get(scrape, "pulse_social_interactions", "5m", "shop", platform="instagram", kind="comments") == 1
    assert get(scrape, "pulse_social_interactions", "5m", platform="instagram", kind="comments") == 0


async def test_exporter_caps_platforms_over_shards() -> None:
    """Each partition admits its own platforms; the exporter keeps the busiest `cap` of the union."""
    store = MemoryStore()
    await make_social(store=store, partition=0).feed(social("impression", "i1", 60, "instagram", count=10))
    p1 = make_social(store=store, partition=1)
    await p1.feed(
        social("impression", "i2", 50, "x", count=4),
        social("like", "l1", 50, "x", count=2),
        social("followers", "f1", 40, "x", followers=7),
    )
    scrape = p1.scrape(label_cap=1)
    assert get(scrape, "pulse_social_impressions", "5m", platform="instagram") == 10
    assert get(scrape, "pulse_social_impressions", "5m", platform="__other__") == 4
    assert get(scrape, "pulse_social_interactions", "5m", platform="__other__", kind="likes") == 2
    assert get(scrape, "pulse_social_engagement_ratio", "5m", platform="__other__") == 0.5  # 2 / 4
    assert get(scrape, "pulse_social_followers", None, platform="__other__") == 7
    assert get(scrape, "pulse_social_impressions", "5m", platform="x") is None


async def test_pipeline_counts() -> None:
    pulse = make_social()
    await pulse.feed(*MENTIONS, b"{", social("followers", "bad", 10))  # no `followers`: rejected
    scrape = pulse.scrape()
    assert scrape.value("pulse_events_total", topic="social", type="social.mention") == 5
    assert scrape.value("pulse_events_rejected_total", topic="social", reason="invalid_json") == 1
    assert scrape.value("pulse_events_rejected_total", topic="social", reason="missing_field") == 1


def test_state_keys_name_only_conversations() -> None:
    plan = make_social().plan([inbound("e1", 10, "c"), reply("e2", 5, "c"), social("like", "e3", 10)])
    assert len(SocialFamily().state_keys([e for _, e in plan.events])) == 1  # one conversation
    changes = Changes()
    SocialFamily().apply([], {}, Context(NOW_MS, retention_ms(WINDOWS), 0, LabelCap(10)), changes)
    assert changes == Changes()
