"""Social media: posts with bursts of engagement, mentions, follows, follower snapshots, messages."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from streams.simulation.base import Choice, Generator, lognormal_ms

MINUTE_MS = 60_000
SNAPSHOT_EVERY_MS = MINUTE_MS  # one `social.followers` per platform per simulated minute
PLATFORMS = Choice({"x": 35, "instagram": 30, "linkedin": 20, "tiktok": 15})
START_FOLLOWERS = {"x": 12_000, "instagram": 30_500, "linkedin": 8_200, "tiktok": 4_100}
ACTION = Choice({"post": 20, "mention": 25, "follow": 20, "unfollow": 7, "inbound": 15, "impression": 13})
BURST = Choice(  # a post's follow-ups: kind -> weight; counts are drawn per kind below
    {"impression": 45, "like": 25, "comment": 8, "share": 6, "save": 5, "click": 8, "unlike": 3}
)
BURST_COUNT = {"impression": (20, 500), "like": (1, 20), "click": (1, 10), "unlike": (1, 3)}
OWN_BRAND = "our-brand"
COMPETITORS = ("rival-one", "rival-two", "rival-three")
OWN_MENTION_SHARE = 0.4
REPLY_SHARE = 0.85


@dataclass(slots=True)
class _Account:
    """Our account on one platform: its follower count, snapshotted every simulated minute."""

    platform: str
    prop: str
    followers: int


class SocialTraffic(Generator):
    """Posts (each a burst of 10-40 engagement events over ~an hour), mentions, follows, DMs.

    >>> import random
    >>> sorted({e["type"] for e in SocialTraffic(random.Random(1)).events(1_700_000_000_000, 4)})
    ['social.followers']
    """

    family = "social"

    def __init__(
        self, rng: random.Random, properties: Sequence[str] = ("shop",), ids: random.Random | None = None
    ) -> None:
        super().__init__(rng, properties, ids)
        self._accounts: dict[tuple[str, str], _Account] = {}

    def _account(self, platform: str, prop: str) -> _Account:
        found = self._accounts.get((platform, prop))
        if found is None:
            found = self._accounts[platform, prop] = _Account(platform, prop, START_FOLLOWERS[platform])
        return found

    def _start(self, now_ms: int) -> None:
        if not self._accounts:  # the first call: start every account's snapshot series now
            for prop in self.properties:
                for platform in PLATFORMS.values:
                    self.later(now_ms, self._account(platform, prop))
            return
        rng = self.rng
        prop, platform = self.prop(), PLATFORMS.pick(rng)
        action = ACTION.pick(rng)
        if action == "post":
            self._post(now_ms, prop, platform)
        elif action == "mention":
            own = rng.random() < OWN_MENTION_SHARE
            brand = OWN_BRAND if own else rng.choice(COMPETITORS)
            self.emit(self.make("mention", now_ms, prop, platform=platform, brand=brand, own=own))
        elif action in ("follow", "unfollow"):
            count = rng.randint(1, 5 if action == "follow" else 3)
            self._account(platform, prop).followers += count if action == "follow" else -count
            self.emit(self.make(action, now_ms, prop, platform=platform, count=count))
        elif action == "inbound":
            self._conversation(now_ms, prop, platform)
        else:  # impressions of older content
            self.emit(self.make("impression", now_ms, prop, platform=platform, count=rng.randint(5, 200)))

    def _resume(self, entity: object, due_ms: int, now_ms: int) -> None:
        assert isinstance(entity, _Account)
        followers = max(entity.followers, 0)
        self.emit(self.make("followers", due_ms, entity.prop, platform=entity.platform, followers=followers))
        self.later(max(due_ms + SNAPSHOT_EVERY_MS, now_ms), entity)  # a slow rate skips minutes

    def _post(self, now_ms: int, prop: str, platform: str) -> None:
        rng = self.rng
        post = {"platform": platform, "post_id": self.uid("post", 40)}
        self.emit(self.make("impression", now_ms, prop, count=rng.randint(50, 800), **post))
        for _ in range(rng.randint(10, 40)):  # engagement decays: most of it in the first 20 min
            kind = BURST.pick(rng)
            at_ms = now_ms + int(rng.expovariate(1 / (15 * MINUTE_MS)))
            low_high = BURST_COUNT.get(kind)
            count = {"count": rng.randint(*low_high)} if low_high else {}
            self.later(at_ms, self.make(kind, at_ms, prop, **post, **count))

    def _conversation(self, now_ms: int, prop: str, platform: str) -> None:
        rng = self.rng
        talk = {"platform": platform, "conversation_id": self.uid("conv")}
        self.emit(self.make("inbound_message", now_ms, prop, **talk))
        if rng.random() < 0.3:  # a follow-up message before anyone answers
            at_ms = now_ms + rng.randint(MINUTE_MS, 5 * MINUTE_MS)
            self.later(at_ms, self.make("inbound_message", at_ms, prop, **talk))
        if rng.random() < REPLY_SHARE:
            at_ms = now_ms + lognormal_ms(rng, 12 * MINUTE_MS, 1.0, 24 * 60 * MINUTE_MS)
            self.later(at_ms, self.make("reply", at_ms, prop, **talk))
