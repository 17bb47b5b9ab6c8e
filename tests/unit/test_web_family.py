"""The web family end to end on the pure path: classify -> Applier -> MemoryStore -> PulseCollector.

Times are seconds before N (= NOW_S, an exact hour). The 5m window is (N-300, N], the 1h
window (N-3600, N]; no event sits within a bucket of either edge, so no blur is involved.
"""

from __future__ import annotations

import pytest

from tests.unit.conftest import (
    HOUR_S,
    NOW_MS,
    NOW_S,
    Harness,
    HarnessFactory,
    Scrape,
    click,
    conversion,
    event,
    feature_used,
    impression,
    page_view,
)

N = NOW_S

# Visitor A (anonymous, no session_id): a1, a2 form one session; a3, 43 min after a2, another.
A1 = page_view("a1", N - 3000, "/home", anonymous_id="anon-a")
A2 = page_view("a2", N - 2700, "/pricing", anonymous_id="anon-a")
A3 = page_view("a3", N - 120, "/home", anonymous_id="anon-a")
# Visitor B (anonymous, logs in on b2): one session of two views, 3 min apart.
B1 = page_view("b1", N - 240, "/home", anonymous_id="anon-b")
B2 = page_view("b2", N - 60, "/docs?utm=x#top", anonymous_id="anon-b", user_id="user-b")
# An explicit session: c2 is 36 min 40 s before c1, which would split it without the session_id.
C1 = page_view("c1", N - 200, "/home", session_id="sess-1", user_id="user-c")
C2 = page_view("c2", N - 2400, "/landing", session_id="sess-1", user_id="user-c")
# Visitor D, two hours ago: in neither the 5m nor the 1h window (only 24h).
D1 = page_view("d1", N - 2 * HOUR_S, "/old", anonymous_id="anon-d")

BATCH_1 = [
    A3,
    C1,
    B2,
    A1,
    b"not json {",  # rejected: invalid_json
    impression("i1", N - 1800, "hero", anonymous_id="anon-a"),
    B1,
]
BATCH_2 = [
    B2,  # the same event_id again: a duplicate
    A2,
    C2,
    click("k1", N - 90, "hero", anonymous_id="anon-b"),
    impression("i2", N - 100, "hero", anonymous_id="anon-b"),
    conversion("cv1", N - 50, "signup", anonymous_id="anon-b", user_id="user-b"),
    feature_used("f1", N - 30, "export", user_id="user-c"),
    D1,
    event("clickstream.page_view", "bad", N - 10, anonymous_id="anon-z"),  # no page: rejected
]


@pytest.fixture
async def dataset(applier: HarnessFactory) -> Harness:
    pulse = applier()
    first = await pulse.feed(*BATCH_1)
    assert (first.applied, first.rejected, first.duplicates) == (6, 1, 0)
    second = await pulse.feed(*BATCH_2)
    assert (second.applied, second.rejected, second.duplicates) == (7, 1, 1)
    return pulse


# Sessions as the dataset builds them (first view, last view, views, exit):
#   SA1 = (N-3000, N-2700, 2, /pricing @ N-2700)  duration 300 s
#   SA2 = (N-120,  N-120,  1, /home    @ N-120)   bounce
#   SB  = (N-240,  N-60,   2, /docs    @ N-60)    duration 180 s
#   SC  = (N-2400, N-200,  2, /home    @ N-200)   duration 2 200 s
#   SD  = (N-7200, N-7200, 1, /old     @ N-7200)  bounce (24h only)
EXPECTED: dict[str, dict[str, float]] = {
    "5m": {
        # a3, b1, b2, c1 (the duplicate of b2 counts once)
        "pulse_page_views": 4,
        # anon-a (a3), anon-b (b1, b2, i2, k1, cv1), user-c (c1, f1)
        "pulse_unique_visitors": 3,
        # user-b (b2, cv1), user-c (c1, f1)
        "pulse_active_users": 2,
        # started in (N-300, N]: SA2, SB (SC started at N-2400)
        "pulse_sessions": 2,
        "pulse_bounced_sessions": 1,  # SA2
        "pulse_bounce_ratio": 0.5,  # 1 / 2
        "pulse_session_duration_seconds": 90.0,  # (0 + 180) / 2
    },
    "1h": {
        # + a1, a2, c2
        "pulse_page_views": 7,
        "pulse_unique_visitors": 3,  # the same three visitors
        "pulse_active_users": 2,
        "pulse_sessions": 4,  # SA1, SA2, SB, SC
        "pulse_bounced_sessions": 1,  # SA2
        "pulse_bounce_ratio": 0.25,  # 1 / 4
        "pulse_session_duration_seconds": 670.0,  # (300 + 0 + 180 + 2200) / 4 = 2680 / 4
    },
    "24h": {
        "pulse_page_views": 8,  # + d1
        "pulse_unique_visitors": 4,  # + anon-d
        "pulse_sessions": 5,  # + SD
        "pulse_bounced_sessions": 2,  # SA2, SD
        "pulse_bounce_ratio": 0.4,  # 2 / 5
        "pulse_session_duration_seconds": 536.0,  # 2680 / 5
    },
}


@pytest.mark.parametrize("window", ["5m", "1h", "24h"])
async def test_property_gauges(dataset: Harness, window: str) -> None:
    scrape = dataset.scrape()
    for name, value in EXPECTED[window].items():
        assert scrape.web(name, window) == value, name


# page -> (views, exits); an exit counts at the time of the session's last view
PAGES = {
    "5m": {
        "/home": (3, 2),  # views a3, b1, c1; exits SA2 (N-120), SC (N-200)
        "/docs": (1, 1),  # view b2 (query and fragment stripped); exit SB (N-60)
    },
    "1h": {
        "/home": (4, 2),  # + a1; SA1 exits at /pricing
        "/docs": (1, 1),
        "/pricing": (1, 1),  # a2; exit SA1 (N-2700)
        "/landing": (1, 0),  # c2; SC went on to /home
    },
}


@pytest.mark.parametrize("window", ["5m", "1h"])
async def test_pages(dataset: Harness, window: str) -> None:
    scrape = dataset.scrape()
    shown = {
        labels["page"] for labels in scrape.names("pulse_page_views_by_page") if labels["window"] == window
    }
    assert shown == set(PAGES[window])
    for page, (views, exits) in PAGES[window].items():
        assert scrape.web("pulse_page_views_by_page", window, page=page) == views
        assert scrape.web("pulse_page_exits", window, page=page) == exits
        assert scrape.web("pulse_page_exit_ratio", window, page=page) == exits / views
    assert scrape.web("pulse_page_exit_ratio", window, page="/docs?utm=x#top") is None


def _placement(scrape: Scrape, window: str) -> tuple[float | None, ...]:
    return tuple(
        scrape.web(name, window, placement="hero")
        for name in ("pulse_impressions", "pulse_clicks", "pulse_click_through_ratio")
    )


async def test_click_through(dataset: Harness) -> None:
    scrape = dataset.scrape()
    assert _placement(scrape, "5m") == (1, 1, 1.0)  # i2 (N-100), k1 (N-90): 1 / 1
    assert _placement(scrape, "1h") == (2, 1, 0.5)  # + i1 (N-1800): 1 / 2


@pytest.mark.parametrize("window", ["5m", "1h"])
async def test_conversion_and_adoption(dataset: Harness, window: str) -> None:
    scrape = dataset.scrape()
    # converting visitors {anon-b} over the 3 unique visitors, in both windows
    assert scrape.web("pulse_converting_visitors", window, goal="signup") == 1
    assert scrape.web("pulse_conversion_ratio", window, goal="signup") == pytest.approx(1 / 3)
    # feature users {user-c} over the 2 active users {user-b, user-c}
    assert scrape.web("pulse_feature_users", window, feature="export") == 1
    assert scrape.web("pulse_active_users", window) == 2
    assert scrape.web("pulse_feature_adoption_ratio", window, feature="export") == 0.5


async def test_pipeline_counts_of_the_dataset(dataset: Harness) -> None:
    scrape = dataset.scrape()
    accepted = {
        "clickstream.page_view": 8,  # a1 a2 a3 b1 b2 c1 c2 d1
        "clickstream.impression": 2,
        "clickstream.click": 1,
        "clickstream.conversion": 1,
        "clickstream.feature_used": 1,
    }
    for type_name, n in accepted.items():
        assert scrape.value("pulse_events_total", topic="clickstream", type=type_name) == n
    for reason, n in [("invalid_json", 1), ("missing_field", 1), ("unknown_type", 0)]:
        assert scrape.value("pulse_events_rejected_total", topic="clickstream", reason=reason) == n
    assert scrape.value("pulse_events_duplicate_total", topic="clickstream") == 1
    assert scrape.value("pulse_events_late_total", topic="clickstream") == 0
    # the newest counted event: f1 at N-30
    assert scrape.value("pulse_last_event_timestamp_seconds", topic="clickstream") == N - 30


async def test_windows_follow_the_clock(dataset: Harness) -> None:
    # 11 min later (less 1 ms, so the 1h window is exactly its 60 buckets of 60 s), the 1h
    # window is (N-2940, N+660) in seconds: it loses a1 (N-3000), and SA1 with it
    scrape = dataset.scrape(NOW_MS + 660_000 - 1)
    assert scrape.web("pulse_page_views", "1h") == 6  # a2, a3, b1, b2, c1, c2
    assert scrape.web("pulse_sessions", "1h") == 3  # SA2, SB, SC
    assert scrape.web("pulse_session_duration_seconds", "1h") == pytest.approx(2380 / 3)
    # the 5m window is quiet by then: counts are 0 (not missing), ratios are not exported
    assert scrape.web("pulse_page_views", "5m") == 0
    assert scrape.web("pulse_sessions", "5m") == 0
    assert scrape.web("pulse_bounce_ratio", "5m") is None


async def test_session_revised_live(applier: HarnessFactory) -> None:
    """A bounce that gets its second page view in a later batch stops being a bounce."""
    pulse = applier()
    await pulse.feed(page_view("s1", N - 100, "/a", anonymous_id="v"))
    before = pulse.scrape()
    assert before.web("pulse_sessions", "5m") == 1
    assert before.web("pulse_bounced_sessions", "5m") == 1
    assert before.web("pulse_bounce_ratio", "5m") == 1.0
    assert before.web("pulse_session_duration_seconds", "5m") == 0.0
    assert before.web("pulse_page_exits", "5m", page="/a") == 1

    later_ms = NOW_MS + 10_000
    await pulse.feed(page_view("s2", N - 40, "/b", anonymous_id="v"), now_ms=later_ms)
    after = pulse.scrape(later_ms)
    assert after.web("pulse_sessions", "5m") == 1  # still one session: 60 s gap
    assert after.web("pulse_bounced_sessions", "5m") == 0  # 1 -> 0
    assert after.web("pulse_bounce_ratio", "5m") == 0.0
    assert after.web("pulse_session_duration_seconds", "5m") == 60.0  # (N-40) - (N-100)
    assert after.web("pulse_page_exits", "5m", page="/a") == 0  # the exit moved ...
    assert after.web("pulse_page_exit_ratio", "5m", page="/a") == 0.0  # 0 / 1
    assert after.web("pulse_page_exits", "5m", page="/b") == 1  # ... to /b
    assert after.web("pulse_page_exit_ratio", "5m", page="/b") == 1.0


async def test_late_view_merges_two_sessions(applier: HarnessFactory) -> None:
    pulse = applier()
    await pulse.feed(
        page_view("m1", N - 3000, "/a", anonymous_id="v"), page_view("m2", N - 100, "/c", anonymous_id="v")
    )
    before = pulse.scrape()
    # 2 900 s apart: two bounces
    assert (before.web("pulse_sessions", "1h"), before.web("pulse_bounced_sessions", "1h")) == (2, 2)
    # m3 at N-1500 is 1 500 s after m1 and 1 400 s before m2: one session of 3 views
    await pulse.feed(page_view("m3", N - 1500, "/b", anonymous_id="v"))
    after = pulse.scrape()
    assert after.web("pulse_sessions", "1h") == 1
    assert after.web("pulse_bounced_sessions", "1h") == 0
    assert after.web("pulse_session_duration_seconds", "1h") == 2900.0  # (N-100) - (N-3000)
    assert after.web("pulse_page_exits", "1h", page="/a") == 0
    assert after.web("pulse_page_exits", "1h", page="/c") == 1
    # the session started at N-3000: outside 5m, which keeps only m2's page view
    assert after.web("pulse_sessions", "5m") == 0
    assert after.web("pulse_page_views", "5m") == 1


async def test_zero_denominators_are_not_exported(applier: HarnessFactory) -> None:
    """A click without impressions, and no page view: counts are exported, ratios are not."""
    pulse = applier()
    await pulse.feed(click("k1", N - 60, "hero", anonymous_id="v"))
    scrape = pulse.scrape()
    assert scrape.web("pulse_clicks", "5m", placement="hero") == 1
    assert scrape.web("pulse_impressions", "5m", placement="hero") == 0
    assert scrape.web("pulse_click_through_ratio", "5m", placement="hero") is None
    assert scrape.web("pulse_sessions", "5m") == 0
    assert scrape.web("pulse_bounced_sessions", "5m") == 0
    assert scrape.web("pulse_bounce_ratio", "5m") is None
    assert scrape.web("pulse_session_duration_seconds", "5m") is None
    assert scrape.web("pulse_active_users", "5m") == 0
    assert scrape.web("pulse_unique_visitors", "5m") == 1  # v, from the click
    assert scrape.names("pulse_click_through_ratio") == []
    assert "pulse_click_through_ratio" in scrape.text  # declared (HELP/TYPE), no sample


async def test_properties_are_kept_apart(applier: HarnessFactory) -> None:
    pulse = applier()
    await pulse.feed(
        page_view("p1", N - 60, "/", anonymous_id="v", property="shop"),
        page_view("p2", N - 50, "/", anonymous_id="v", property="blog"),
        page_view("p3", N - 40, "/", anonymous_id="v", property="shop"),
    )
    scrape = pulse.scrape()
    # the same visitor has one session per property: shop (2 views, 20 s), blog (a bounce)
    assert scrape.web("pulse_page_views", "5m", "shop") == 2
    assert scrape.web("pulse_session_duration_seconds", "5m", "shop") == 20.0
    assert scrape.web("pulse_bounce_ratio", "5m", "shop") == 0.0
    assert scrape.web("pulse_page_views", "5m", "blog") == 1
    assert scrape.web("pulse_bounce_ratio", "5m", "blog") == 1.0
    assert scrape.web("pulse_page_views", "5m") is None  # nothing in "default"
