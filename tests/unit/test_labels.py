"""Label values from untrusted input: sanitising, the per-shard cap, the exporter-side cap."""

from __future__ import annotations

import pytest

from metrics_core.labels import (
    MAX_LABEL_CHARS,
    OTHER,
    LabelCap,
    fold,
    kept_values,
    sanitize,
    sanitize_page,
)
from tests.unit.conftest import HOUR_S, NOW_S, HarnessFactory, page_view


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("promo\n\x00bar", "promobar"),  # control characters dropped
        ("tab\there\r\x7f\x85", "tabhere"),  # tab, CR, DEL and the C1 control NEL too
        ("café 日本語", "café 日本語"),  # printable unicode stays
        ('say "hi" \\ there', 'say "hi" \\ there'),  # quotes and backslashes are printable
        ("ann@example.com signup", "<email> signup"),
        ("x ann.lee+tag@mail.example.co.uk y", "x <email> y"),
        ("  padded  ", "padded"),
        ("", "none"),
        ("\n\t\x00", "none"),  # nothing printable left
    ],
)
def test_sanitize(raw: str, clean: str) -> None:
    assert sanitize(raw) == clean


def test_sanitize_caps_at_128_chars() -> None:
    assert MAX_LABEL_CHARS == 128
    assert sanitize("a" * 1000) == "a" * 128
    # the cap counts characters after the control characters are gone: 200 - 100 NULs = 100 kept
    assert sanitize("b\x00" * 100) == "b" * 100
    assert len(sanitize("é" * 300)) == 128


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("/checkout?email=a@b.co#top", "/checkout"),
        ("/pricing#plans", "/pricing"),
        ("/a#frag?not=query", "/a"),
        ("/search?q=shoes", "/search"),
        ("?only=query", "none"),
        ("/users/ann@example.com/profile", "/users/<email>/profile"),
    ],
)
def test_sanitize_page(raw: str, clean: str) -> None:
    assert sanitize_page(raw) == clean


def test_label_cap_folds_the_third_value() -> None:
    cap = LabelCap(2)
    assert cap.fold("page", "/a", 1_000) == "/a"
    assert cap.fold("page", "/b", 1_000) == "/b"
    assert cap.fold("page", "/c", 1_000) == OTHER  # third distinct value, cap 2
    assert cap.fold("page", "/a", 2_000) == "/a"  # admitted values stay admitted
    assert cap.fold("page", "/c", 2_000) == OTHER  # and a folded one stays folded
    assert cap.fold("goal", "signup", 1_000) == "signup"  # each label has its own cap
    # what the batch touched (admitted or saw later), with the last time it was seen
    assert cap.take_touched() == {"page": {"/a": 2_000, "/b": 1_000}, "goal": {"signup": 1_000}}
    assert cap.take_touched() == {}
    assert cap.fold("page", "/a", 2_000) == "/a"
    assert cap.take_touched() == {}  # seen again at the same ms: nothing new to write


def test_label_cap_expire_releases_old_values() -> None:
    cap = LabelCap(2)
    cap.fold("page", "/a", 1_000)
    cap.fold("page", "/b", 1_000)
    cap.fold("page", "/a", 5_000)
    # /b was last seen at 1 000 < 3 000: released; /a (5 000) stays
    assert cap.expire(older_than_ms=3_000) == {"page": ["/b"]}
    assert cap.known == {"page": {"/a": 5_000}}
    assert cap.fold("page", "/c", 6_000) == "/c"  # room again
    assert cap.fold("page", "/d", 6_000) == OTHER


def test_label_cap_load_copies() -> None:
    stored = {"page": {"/a": 1_000}}
    cap = LabelCap.load(2, stored)
    cap.fold("page", "/b", 2_000)
    assert stored == {"page": {"/a": 1_000}}
    assert cap.known == {"page": {"/a": 1_000, "/b": 2_000}}


def test_kept_values_heaviest_ties_by_name_never_other() -> None:
    assert kept_values({"/a": 5, "/b": 1, "/c": 3}, 2) == {"/a", "/c"}
    assert kept_values({"/c": 2, "/b": 2, "/a": 2}, 2) == {"/a", "/b"}  # equal weights: by name
    assert kept_values({OTHER: 100, "/a": 1}, 1) == {"/a"}
    assert kept_values({"/a": 1}, 5) == {"/a"}


def test_fold_sums_the_rest_into_other() -> None:
    values = {"/a": 5, "/b": 1, "/c": 3, OTHER: 2}
    # /b (1) + the shards' own __other__ (2) = 3
    assert fold(values, frozenset({"/a", "/c"})) == {"/a": 5, "/c": 3, OTHER: 3}


async def test_folded_exit_page_is_retracted_as_folded(applier: HarnessFactory) -> None:
    """A session whose exit page was folded retracts `__other__`, not its raw page."""
    pulse = applier(label_cap=2)
    await pulse.feed(
        page_view("x1", NOW_S - 200, "/a", anonymous_id="v1"),
        page_view("x2", NOW_S - 190, "/b", anonymous_id="v2"),
        page_view("x3", NOW_S - 180, "/c", anonymous_id="v3"),  # third page: __other__
    )
    before = pulse.scrape()
    assert before.web("pulse_page_exits", "5m", page=OTHER) == 1  # v3's bounce exits at /c
    # v3 goes on to /a 80 s later: its exit moves from __other__ (at N-180) to /a (at N-100)
    await pulse.feed(page_view("x4", NOW_S - 100, "/a", anonymous_id="v3"))
    after = pulse.scrape()
    for page, views, exits in [
        ("/a", 2, 2),  # x1 and x4; exits: v1's bounce and v3's session
        ("/b", 1, 1),  # v2's bounce
        (OTHER, 1, 0),  # x3 (/c); its exit was retracted as __other__, so 1 - 1 = 0
    ]:
        assert after.web("pulse_page_views_by_page", "5m", page=page) == views
        assert after.web("pulse_page_exits", "5m", page=page) == exits
        assert after.web("pulse_page_exit_ratio", "5m", page=page) == exits / views
    assert after.web("pulse_page_views_by_page", "5m", page="/c") is None
    assert after.web("pulse_page_exits", "5m", page="/c") is None


async def test_released_values_make_room(applier: HarnessFactory) -> None:
    pulse = applier(label_cap=2)
    await pulse.feed(
        page_view("x1", NOW_S - 10, "/a", anonymous_id="v1"),
        page_view("x2", NOW_S - 10, "/b", anonymous_id="v2"),
    )
    later_s = NOW_S + 26 * HOUR_S  # retention is 25 h: /a and /b, seen at NOW, are stale then
    later_ms = later_s * 1000
    await pulse.feed(page_view("x3", later_s - 20, "/b", anonymous_id="v2"), now_ms=later_ms)
    # that batch kept /b (seen again) and released /a: /c now fits under the cap of 2
    await pulse.feed(page_view("x4", later_s - 10, "/c", anonymous_id="v3"), now_ms=later_ms)
    scrape = pulse.scrape(later_ms)
    assert scrape.web("pulse_page_views_by_page", "5m", page="/b") == 1
    assert scrape.web("pulse_page_views_by_page", "5m", page="/c") == 1
    assert scrape.web("pulse_page_views_by_page", "5m", page=OTHER) is None


async def test_exporter_cap_folds_the_lightest_pages(applier: HarnessFactory) -> None:
    """Shards admit values on their own; the exporter keeps the heaviest `label_cap` of them."""
    pulse = applier()
    pages = ["/a", "/a", "/a", "/b", "/b", "/c", "/d"]
    await pulse.feed(*(page_view(f"x{i}", NOW_S - 60, p, anonymous_id=f"v{i}") for i, p in enumerate(pages)))
    scrape = pulse.scrape(label_cap=2)
    # kept: /a (3 views), /b (2); /c and /d (1 each) fold: __other__ = 2; every view is a bounce
    for page, views in [("/a", 3), ("/b", 2), (OTHER, 2)]:
        assert scrape.web("pulse_page_views_by_page", "5m", page=page) == views
        assert scrape.web("pulse_page_exits", "5m", page=page) == views
        assert scrape.web("pulse_page_exit_ratio", "5m", page=page) == 1.0
    assert scrape.names("pulse_page_views_by_page") == scrape.names("pulse_page_exits")
    assert {labels["page"] for labels in scrape.names("pulse_page_views_by_page")} == {"/a", "/b", OTHER}
