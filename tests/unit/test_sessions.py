"""Sessions as pure data: add_view in any order, the 30-minute gap, merges, the exit page."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics_core.families.sessions import Session, add_view

TIMEOUT_MS = 30 * 60_000  # 1 800 000


def fold(views: Sequence[tuple[int, str]], timeout_ms: int | None = TIMEOUT_MS) -> list[Session]:
    sessions: list[Session] = []
    for ts_ms, page in views:
        sessions = add_view(sessions, ts_ms, page, timeout_ms)
    return sessions


def reference(views: Sequence[tuple[int, str]], timeout_ms: int) -> list[Session]:
    """Sessions the obvious way: sort the views, cut where the gap exceeds the timeout."""
    ordered = sorted(views)
    groups: list[list[tuple[int, str]]] = []
    for view in ordered:
        if groups and view[0] - groups[-1][-1][0] <= timeout_ms:
            groups[-1].append(view)
        else:
            groups.append([view])
    return [Session(g[0][0], g[-1][0], len(g), *max(g)) for g in groups]


def test_one_view_is_a_bounce() -> None:
    (session,) = fold([(1_000, "/a")])
    assert session == Session(1_000, 1_000, 1, 1_000, "/a")
    assert session.bounced
    assert session.duration_ms == 0


def test_gap_of_exactly_the_timeout_joins() -> None:
    # 0 and 1 800 000: the gap is exactly 30 min, not more than it: one session of 2 views
    (session,) = fold([(0, "/a"), (TIMEOUT_MS, "/b")])
    assert session == Session(0, 1_800_000, 2, 1_800_000, "/b")
    assert not session.bounced
    assert session.duration_ms == 1_800_000


def test_gap_one_ms_over_the_timeout_splits() -> None:
    # 0 and 1 800 001: 30 min + 1 ms of inactivity ends the first session
    assert fold([(0, "/a"), (TIMEOUT_MS + 1, "/b")]) == [
        Session(0, 0, 1, 0, "/a"),
        Session(1_800_001, 1_800_001, 1, 1_800_001, "/b"),
    ]


def test_gap_before_the_first_view_joins_backwards() -> None:
    # a late view 30 min before the session's first view extends it backwards
    (session,) = fold([(TIMEOUT_MS, "/b"), (0, "/a")])
    assert session == Session(0, 1_800_000, 2, 1_800_000, "/b")


def test_late_view_bridging_two_sessions_merges_them() -> None:
    # 0 and 3 600 000 are an hour apart: two bounces
    two = fold([(0, "/a"), (3_600_000, "/c")])
    assert [s.views for s in two] == [1, 1]
    # 1 800 000 is within 30 min of both (gaps 1 800 000 and 1 800 000): one session of 3 views
    (merged,) = add_view(two, 1_800_000, "/b", TIMEOUT_MS)
    assert merged == Session(0, 3_600_000, 3, 3_600_000, "/c")
    assert merged.duration_ms == 3_600_000  # 3 600 000 - 0


def test_late_view_inside_a_session_keeps_its_exit() -> None:
    # views at 0 (/a), 600 000 (/c); a late view at 300 000 (/b) is not the latest: exit stays /c
    (session,) = fold([(0, "/a"), (600_000, "/c"), (300_000, "/b")])
    assert session == Session(0, 600_000, 3, 600_000, "/c")


def test_exit_page_is_the_latest_view_ties_by_page_name() -> None:
    # two views at the same ms: the exit is the larger page name, whatever the arrival order
    assert fold([(5_000, "/b"), (5_000, "/a")])[0].exit_page == "/b"
    assert fold([(5_000, "/a"), (5_000, "/b")])[0].exit_page == "/b"
    # the latest view wins over a larger name
    assert fold([(6_000, "/a"), (5_000, "/z")])[0].exit_page == "/a"


def test_explicit_session_id_keeps_one_session() -> None:
    # timeout None: views 10 h apart are still one session (session_id given)
    (session,) = fold([(36_000_000, "/b"), (0, "/a")], timeout_ms=None)
    assert session == Session(0, 36_000_000, 2, 36_000_000, "/b")
    assert session.duration_ms == 36_000_000  # 10 h


def test_sessions_stay_sorted_by_first_view() -> None:
    sessions = fold([(10_000_000, "/c"), (0, "/a"), (5_000_000, "/b")])
    assert [s.first_ms for s in sessions] == [0, 5_000_000, 10_000_000]


# Views within a few timeouts of each other, with collisions on the ms and the page.
_VIEWS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=4 * TIMEOUT_MS // 60_000).map(lambda m: m * 60_000 + (m % 3)),
        st.sampled_from(["/a", "/b", "/c"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(views=_VIEWS, data=st.data())
def test_any_order_gives_the_same_sessions(views: list[tuple[int, str]], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(views))
    assert fold(shuffled) == fold(views) == reference(views, TIMEOUT_MS)
    assert sum(s.views for s in fold(shuffled)) == len(views)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(views=_VIEWS, data=st.data())
def test_any_order_gives_one_explicit_session(views: list[tuple[int, str]], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(views))
    (session,) = fold(shuffled, timeout_ms=None)
    assert session == Session(min(views)[0], max(views)[0], len(views), *max(views))
