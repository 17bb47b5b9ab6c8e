"""E-mail campaigns: sends, then deliveries, bounces, opens (human and Apple MPP), clicks, unsubscribes.

Each message's fate is drawn when it is sent and its events are scheduled at realistic delays:
delivery within seconds, machine opens seconds after delivery, human opens minutes to hours
later, clicks shortly after an open. A few delivery reports come late, after the first open.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from streams.simulation.base import Choice, Generator, lognormal_ms

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
FATE = Choice({"delivered": 0.97, "bounced": 0.02, "dropped": 0.01})
BOUNCE_TYPE = Choice({"hard": 0.5, "soft": 0.35, "blocked": 0.15})
MACHINE_OPEN_SHARE = 0.10  # of delivered: Apple MPP pre-fetches (40 % of all openers)
HUMAN_OPEN_SHARE = 0.15  # of delivered: a person opens it
CLICK_SHARE = {True: 0.10, False: 0.13}  # of openers, machine (MPP) or human: ~3 % of delivered
CONVERSION_SHARE = 0.15  # of clickers: ~0.5 % of delivered
UNSUBSCRIBE_SHARE = 0.002  # of delivered
SPAM_SHARE = 0.0002  # of delivered
LATE_REPORT_SHARE = 0.03  # delivery reports that arrive minutes late (after an open)
URLS = ("/pricing", "/blog/launch", "/features", "/webinar")


class EmailTraffic(Generator):
    """Campaigns of 300-3000 messages sent as fast as the rate allows, each with its funnel.

    >>> import random
    >>> [e["type"] for e in EmailTraffic(random.Random(1)).events(1_700_000_000_000, 2)]
    ['email.sent', 'email.sent']
    """

    family = "email"

    def __init__(
        self, rng: random.Random, properties: Sequence[str] = ("shop",), ids: random.Random | None = None
    ) -> None:
        super().__init__(rng, properties, ids)
        self._campaigns = 0
        self._campaign = ""
        self._campaign_prop = ""
        self._to_send = 0

    def _start(self, now_ms: int) -> None:
        rng = self.rng
        if self._to_send == 0:
            self._campaigns += 1
            self._campaign = f"cmp-{self._campaigns:04d}"
            self._campaign_prop = self.prop()
            self._to_send = rng.randint(300, 3000)
        self._to_send -= 1
        ids = {"message_id": self.uid("msg", 64), "campaign_id": self._campaign}
        prop = self._campaign_prop
        self.emit(self.make("sent", now_ms, prop, recipient_id=self.uid("rcpt", 40), **ids))
        fate = FATE.pick(rng)
        if fate == "dropped":
            self._at(now_ms + rng.randint(200, 2000), "dropped", prop, ids)
        elif fate == "bounced":
            self._at(
                now_ms + lognormal_ms(rng, 5 * SECOND_MS, 1.0),
                "bounced",
                prop,
                ids,
                bounce_type=BOUNCE_TYPE.pick(rng),
            )
        else:
            self._delivered(now_ms + lognormal_ms(rng, 3 * SECOND_MS, 1.0), prop, ids)

    def _delivered(self, at_ms: int, prop: str, ids: dict[str, str]) -> None:
        rng = self.rng
        event = self.make("delivered", at_ms, prop, **ids)
        late = rng.random() < LATE_REPORT_SHARE
        self.later(at_ms + (rng.randint(MINUTE_MS, 10 * MINUTE_MS) if late else 0), event)
        if rng.random() < self.scenario.scanner_share:  # a link scanner fetches images and links
            self._at(at_ms + rng.randint(SECOND_MS, 10 * SECOND_MS), "opened", prop, ids, machine=True)
            for _ in range(rng.randint(1, 3)):
                self._at(at_ms + rng.randint(2 * SECOND_MS, 20 * SECOND_MS), "clicked", prop, ids, bot=True)
        reader = rng.random()
        if reader < MACHINE_OPEN_SHARE:
            self._reader(at_ms + lognormal_ms(rng, 30 * SECOND_MS, 1.0), prop, ids, machine=True)
        elif reader < MACHINE_OPEN_SHARE + HUMAN_OPEN_SHARE:
            self._reader(at_ms + lognormal_ms(rng, 15 * MINUTE_MS, 1.2, 6 * 60 * MINUTE_MS), prop, ids)
        if rng.random() < UNSUBSCRIBE_SHARE:
            self._at(at_ms + lognormal_ms(rng, 20 * MINUTE_MS, 1.0), "unsubscribed", prop, ids)
        if rng.random() < SPAM_SHARE:
            self._at(at_ms + lognormal_ms(rng, 10 * MINUTE_MS, 1.0), "spam_reported", prop, ids)

    def _reader(self, open_ms: int, prop: str, ids: dict[str, str], machine: bool = False) -> None:
        rng = self.rng
        self._at(open_ms, "opened", prop, ids, machine=machine)
        if not machine and rng.random() < 0.3:  # a second look
            self._at(open_ms + lognormal_ms(rng, 30 * MINUTE_MS, 1.0), "opened", prop, ids)
        if rng.random() < CLICK_SHARE[machine]:
            click_ms = open_ms + rng.randint(5 * SECOND_MS, 120 * SECOND_MS)
            self._at(click_ms, "clicked", prop, ids, url=rng.choice(URLS))
            if rng.random() < CONVERSION_SHARE:
                value = round(rng.uniform(15, 250), 2)
                self._at(
                    click_ms + lognormal_ms(rng, 5 * MINUTE_MS, 1.0), "converted", prop, ids, value=value
                )

    def _at(self, ts_ms: int, name: str, prop: str, ids: dict[str, str], **fields: object) -> None:
        self.later(ts_ms, self.make(name, ts_ms, prop, **ids, **fields))
