"""Web traffic: visits with realistic page-view counts and dwell times, impressions and clicks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.simulation.base import Choice, Generator, lognormal_ms

PAGES = ("/", "/pricing", "/features", "/blog", "/blog/launch", "/docs", "/signup", "/checkout")
LANDING = Choice({"/": 40, "/blog/launch": 20, "/pricing": 15, "/features": 15, "/docs": 10})
PLACEMENTS = ("hero-banner", "sidebar-promo", "newsletter-box", "footer-cta")
GOALS = {"/signup": ("signup", 0.1), "/checkout": ("purchase", 0.08)}  # page: (goal, probability)
FEATURES = ("dashboards", "alerts", "export", "sso")
BOUNCE_SHARE = 0.4
CLICK_SHARE = 0.04  # clicks per impression
DWELL_MEDIAN_MS = 30_000
DWELL_CAP_MS = 20 * 60_000  # below the 30-minute session timeout
DWELL_SIGMA = 0.8  # log-normal: most dwell times 10-90 s, a few minutes


@dataclass(slots=True)
class _Visit:
    ids: dict[str, str]  # anonymous_id, and user_id / session_id when the visit has them
    prop: str
    user: str | None
    views_left: int


class WebTraffic(Generator):
    """Visits as they unfold: ~40 % bounce, else ~4.5 page views on average, dwell ~30 s median.

    >>> import random
    >>> [e["type"] for e in WebTraffic(random.Random(1)).events(1_700_000_000_000, 2)]
    ['clickstream.page_view', 'clickstream.impression']
    """

    family = "clickstream"

    def _start(self, now_ms: int) -> None:
        rng = self.rng
        views = 1 if rng.random() < BOUNCE_SHARE else 2 + int(rng.expovariate(1 / 2.5))
        ids = {"anonymous_id": self.uid("anon", 40)}
        user = f"user-{rng.randrange(5000)}" if rng.random() < 0.3 else None
        if user:
            ids["user_id"] = user
        if rng.random() < 0.5:
            ids["session_id"] = self.uid("s")
        self._view(_Visit(ids, self.prop(), user, views), now_ms, LANDING.pick(rng))

    def _resume(self, entity: object, due_ms: int, now_ms: int) -> None:
        assert isinstance(entity, _Visit)
        self._view(entity, due_ms, self.rng.choice(PAGES))

    def _view(self, visit: _Visit, ts_ms: int, page: str) -> None:
        rng, prop, ids = self.rng, visit.prop, visit.ids
        self.emit(self.make("page_view", ts_ms, prop, page=page, **ids))
        placement = rng.choice(PLACEMENTS)
        self.emit(self.make("impression", ts_ms, prop, placement=placement, **ids))
        if rng.random() < CLICK_SHARE:
            self.emit(self.make("click", ts_ms, prop, placement=placement, **ids))
        goal = GOALS.get(page)
        if goal and rng.random() < goal[1]:
            value: dict[str, Any] = {"value": round(rng.uniform(20, 400), 2)} if goal[0] == "purchase" else {}
            self.emit(self.make("conversion", ts_ms, prop, goal=goal[0], **value, **ids))
        if visit.user and rng.random() < 0.2:
            self.emit(
                self.make("feature_used", ts_ms, prop, feature=rng.choice(FEATURES), user_id=visit.user)
            )
        visit.views_left -= 1
        if visit.views_left > 0:
            self.later(ts_ms + lognormal_ms(rng, DWELL_MEDIAN_MS, DWELL_SIGMA, DWELL_CAP_MS), visit)
