"""Sessions as pure data: fold page views in any order, and what a session contributes.

A session is `(first_ms, last_ms, views, exit_ms, exit_page)`. Without a `session_id`, a
visitor's page views form sessions split by more than `timeout_ms` of inactivity; a page
view that lands in a gap may join, or merge, sessions. With a `session_id`, all its page
views form one session (timeout None). The exit page is the page of the latest view
(ties broken by page name, so any arrival order gives the same answer).
"""

from __future__ import annotations

from typing import NamedTuple


class Session(NamedTuple):
    first_ms: int
    last_ms: int
    views: int
    exit_ms: int
    exit_page: str

    @property
    def bounced(self) -> bool:
        """A single-page-view session is a bounce."""
        return self.views == 1

    @property
    def duration_ms(self) -> int:
        return self.last_ms - self.first_ms


def add_view(sessions: list[Session], ts_ms: int, page: str, timeout_ms: int | None) -> list[Session]:
    """Sessions after one more page view; the list stays sorted by first_ms.

    >>> s = add_view([], 0, "/a", 1800_000)
    >>> s = add_view(s, 3600_000, "/c", 1800_000)      # an hour later: a second session
    >>> [x.views for x in add_view(s, 1800_000, "/b", 1800_000)]  # fills the gap: one session
    [3]
    """
    if not sessions:  # the common case: a visitor's first view in retention
        return [Session(ts_ms, ts_ms, 1, ts_ms, page)]
    joined = [
        s
        for s in sessions
        if timeout_ms is None or s.first_ms - timeout_ms <= ts_ms <= s.last_ms + timeout_ms
    ]
    merged = Session(ts_ms, ts_ms, 1, ts_ms, page)
    for s in joined:
        merged = Session(
            min(merged.first_ms, s.first_ms),
            max(merged.last_ms, s.last_ms),
            merged.views + s.views,
            *max((merged.exit_ms, merged.exit_page), (s.exit_ms, s.exit_page)),
        )
    rest = [s for s in sessions if s not in joined]
    return sorted([*rest, merged])
