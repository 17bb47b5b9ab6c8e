"""Survey waves: NPS, CSAT (mostly on a 5-point scale) and CES answers, ~5 % revised later."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from streams.simulation.base import Choice, Generator, lognormal_ms

MINUTE_MS = 60_000
KIND = Choice({"relationship": 50, "support": 35, "effort": 15})
CES_WITH_SUPPORT = 0.6  # support surveys that also ask the effort question
CSAT_7_SHARE = 0.1  # CSAT asked on a 1..7 scale instead of 1..5
REVISION_SHARE = 0.05

_UP = {1: 2, 2: 3, 3: 5, 4: 10, 5: 20, 6: 30, 7: 30}  # a 1..7 scale, mostly high
_DOWN = {1: 25, 2: 25, 3: 20, 4: 15, 5: 10, 6: 3, 7: 2}  # the same, mostly low
# score -> weight, (steady respondent, unhappy respondent); steady NPS ≈ 40, CSAT ≈ 80 %
SCORES: Mapping[str, tuple[Choice[int], Choice[int]]] = {
    "nps": (
        Choice(dict(enumerate((1, 1, 1, 2, 2, 3, 5, 12, 18, 25, 30)))),
        Choice(dict(enumerate((12, 10, 12, 14, 14, 14, 12, 6, 3, 2, 1)))),
    ),
    "csat5": (Choice({1: 4, 2: 5, 3: 11, 4: 35, 5: 45}), Choice({1: 35, 2: 35, 3: 20, 4: 7, 5: 3})),
    "csat7": (Choice(_UP), Choice(_DOWN)),
    "ces": (Choice(_UP), Choice(_DOWN)),
}
RANGE = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}  # (lowest, highest) score


class SurveyTraffic(Generator):
    """Responses to NPS waves (200-1500 each), post-support CSAT (+ CES) and onboarding CES.

    >>> import random
    >>> [e["type"] for e in SurveyTraffic(random.Random(1)).events(1_700_000_000_000, 1)]
    ['survey.csat']
    """

    family = "survey"

    def __init__(
        self, rng: random.Random, properties: Sequence[str] = ("shop",), ids: random.Random | None = None
    ) -> None:
        super().__init__(rng, properties, ids)
        self._waves = 0
        self._wave_left = 0

    def _start(self, now_ms: int) -> None:
        rng = self.rng
        prop, response = self.prop(), self.uid("resp")
        unhappy = rng.random() < self.scenario.unhappy_share
        kind = KIND.pick(rng)
        if kind == "relationship":
            if self._wave_left == 0:
                self._waves += 1
                self._wave_left = rng.randint(200, 1500)
            self._wave_left -= 1
            self._answer(now_ms, prop, response, f"nps-wave-{self._waves:03d}", "nps", unhappy)
        elif kind == "support":
            self._answer(now_ms, prop, response, "support-csat", "csat", unhappy)
            if rng.random() < CES_WITH_SUPPORT:
                self._answer(
                    now_ms + rng.randint(2_000, 20_000), prop, response, "support-csat", "ces", unhappy
                )
        else:
            self._answer(now_ms, prop, response, "onboarding-ces", "ces", unhappy)

    def _answer(self, at_ms: int, prop: str, response: str, survey: str, kind: str, unhappy: bool) -> None:
        rng = self.rng
        fields: dict[str, object] = {"response_id": response, "survey_id": survey}
        low, high = RANGE[kind]
        table = kind
        if kind == "csat":
            high = 7 if rng.random() < CSAT_7_SHARE else 5
            table = f"csat{high}"
            fields["scale_max"] = high
        score = SCORES[table][unhappy].pick(rng)
        self.later(at_ms, self.make(kind, at_ms, prop, score=score, **fields))
        if rng.random() < REVISION_SHARE:  # the respondent comes back and changes the answer
            revised = min(max(score + rng.choice((-2, -1, 1, 2)), low), high)
            later_ms = at_ms + lognormal_ms(rng, 5 * MINUTE_MS, 1.0)
            self.later(later_ms, self.make(kind, later_ms, prop, score=revised, **fields))
