"""What the survey tests share: answers at given times, one survey partition's worker on the
in-memory store, and readers for its scrape.

Times are seconds before N (= NOW_S, an exact hour); windows 5m, 1h and 24h.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from metrics_core.batch import Applier, Limits, Outcome, Plan, classify
from metrics_core.families.survey import SurveyFamily
from metrics_core.routing import routing_key
from metrics_core.store.base import ShardId
from metrics_core.store.memory import MemoryStore
from metrics_core.windows import Window, retention_ms
from tests.unit.conftest import HOUR_S, NOW_MS, NOW_S, WINDOWS, Scrape, event, parse, records, scrape_text

N = NOW_S
RETENTION_MS = retention_ms(WINDOWS)  # 24 h + 1 h


# --- payloads


def nps_answer(eid: str, ts_s: float, rid: str, score: int, **fields: Any) -> bytes:
    return event("survey.nps", eid, ts_s, response_id=rid, score=score, **fields)


def csat_answer(eid: str, ts_s: float, rid: str, score: int, scale_max: int | None = None, **f: Any) -> bytes:
    return event("survey.csat", eid, ts_s, response_id=rid, score=score, scale_max=scale_max, **f)


def ces_answer(eid: str, ts_s: float, rid: str, score: int, **fields: Any) -> bytes:
    return event("survey.ces", eid, ts_s, response_id=rid, score=score, **fields)


# --- one survey partition's worker on the in-memory store


@dataclass
class Surveys:
    store: MemoryStore = field(default_factory=MemoryStore)
    windows: tuple[Window, ...] = WINDOWS
    label_cap: int = 500
    next_offset: int = 0
    applier: Applier = field(init=False)

    def __post_init__(self) -> None:
        limits = Limits(self.windows, RETENTION_MS, 72 * HOUR_S * 1000, 30 * 60_000, self.label_cap)
        self.applier = Applier(self.store, SurveyFamily(), limits)

    async def feed(self, *values: bytes, now_ms: int = NOW_MS) -> Outcome:
        batch = records(values, self.next_offset)
        self.next_offset += len(batch)
        plan = classify(batch, "survey", 0, None, now_ms, RETENTION_MS, 65_536, routing_key)

        async def emit(todo: Plan) -> None:
            return None

        return await self.applier.apply(ShardId("survey", 0), "survey@1|0", plan, emit, now_ms=now_ms)

    async def feed_each(self, values: Sequence[bytes]) -> None:
        """One batch per message, in the given order."""
        for value in values:
            await self.feed(value)

    def scrape(self, now_ms: int = NOW_MS, label_cap: int | None = None) -> Scrape:
        cap = self.label_cap if label_cap is None else label_cap
        return parse(scrape_text(self.store, now_ms, self.windows, cap))


def get(scrape: Scrape, name: str, window: str, survey: str = "default", **labels: str) -> float | None:
    return scrape.get(name, window=window, property="default", survey=survey, **labels)


def nps_counts(scrape: Scrape, window: str, survey: str = "default") -> tuple[float | None, ...]:
    return tuple(
        get(scrape, "pulse_nps_responses", window, survey, category=c)
        for c in ("promoter", "passive", "detractor")
    )


def survey_samples(scrape: Scrape) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        k: v for k, v in scrape.samples.items() if k[0].startswith(("pulse_nps", "pulse_csat", "pulse_ces"))
    }
