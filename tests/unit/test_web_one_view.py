"""The web family's one-view shortcut gives exactly the changes of the general session revision.

`_one_view` handles a batch's single view of an entity with at most one live session as net
deltas; `_revise_sessions` retracts the sessions as they were and adds them as they are now.
Both must leave the same non-zero counter deltas and the same stored state, for any view
before, inside, after or far from the session, with or without a session_id.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics_core.families.base import Context
from metrics_core.families.changes import Changes
from metrics_core.families.sessions import Session
from metrics_core.families.web import _Labels, _one_view, _revise_sessions
from metrics_core.labels import LabelCap

TIMEOUT_MS = 1_800_000
RETENTION_MS = 86_400_000
NOW_MS = 10 * TIMEOUT_MS
PAGES = st.sampled_from(["/a", "/b", "/c"])
# times a few timeouts apart, with collisions on the ms (the tie-break by page name)
TIMES = st.integers(min_value=0, max_value=8).map(lambda m: m * TIMEOUT_MS // 2 + (m % 3))


@st.composite
def sessions(draw: st.DrawFn) -> Session:
    first = draw(TIMES)
    last = first + draw(st.sampled_from([0, 0, 1, 60_000, TIMEOUT_MS]))
    views = 1 if last == first and draw(st.booleans()) else draw(st.integers(2, 5))
    exit_ms = draw(st.sampled_from([first, last]))
    return Session(first, last, views, exit_ms, draw(PAGES))


def _changes(fn_name: str, old: Session | None, ts_ms: int, page: str, timeout: int | None) -> Changes:
    changes = Changes()
    ctx = Context(NOW_MS, RETENTION_MS, TIMEOUT_MS, LabelCap(100))
    labels = _Labels(ctx)
    if fn_name == "one":
        _one_view("k", list(old) if old else None, ts_ms, page, "p", timeout, ctx, labels, changes)
    else:
        before = [old] if old else []
        _revise_sessions("k", before, [(ts_ms, page, "p", timeout is None)], timeout, ctx, labels, changes)
    return changes


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    old=st.none() | sessions(),
    ts_ms=TIMES,
    page=PAGES,
    explicit=st.booleans(),
)
def test_one_view_matches_the_general_revision(
    old: Session | None, ts_ms: int, page: str, explicit: bool
) -> None:
    timeout = None if explicit else TIMEOUT_MS
    fast = _changes("one", old, ts_ms, page, timeout)
    general = _changes("general", old, ts_ms, page, timeout)
    assert {k: n for k, n in fast.counts.items() if n} == {k: n for k, n in general.counts.items() if n}
    assert fast.states == general.states


def test_the_next_view_of_an_open_session_revises_it_in_place() -> None:
    """Hand-computed: a bounce at 1 000 s, a view at 1 060 s: no bounce, 60 s, the exit moves."""
    old = Session(1_000_000, 1_000_000, 1, 1_000_000, "/a")
    changes = _changes("one", old, 1_060_000, "/b", TIMEOUT_MS)
    assert {k: n for k, n in changes.counts.items() if n} == {
        (1_000, "bs\x1fp"): -1,
        (1_000, "sd\x1fp"): 60_000,
        (1_000, "ex\x1fp\x1f/a"): -1,
        (1_060, "ex\x1fp\x1f/b"): 1,
    }
    assert changes.states == {"k": (b'[[1000000,1060000,2,1060000,"/b"]]', 1_060_000 + RETENTION_MS)}
