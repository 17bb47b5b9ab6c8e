"""The survey family: NPS, CSAT and CES answers, revised in place and anchored to first submission.

Counter fields (joined by `SEP`; `p` is the property, `s` the survey label), all counted at
the response's anchor (its first submission's event time):
  np p s category  NPS answers by category (promoter | passive | detractor)
  cr p s           CSAT answers               cp p s  of those, top-2-box (positive)
  er p s           CES answers                es p s  sum of CES scores (1..7)

A response (`state_key("r", property, response_id)`) holds at most one answer per type, the
version with the latest event time (equal times: the higher hash of the event id), and the
anchor: the earliest event time of any of its events. Each batch retracts the response's
contribution as it was and adds it as it is now, so every arrival order, replay or revision
gives the same counters (docs/families/survey.md).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from metrics_core.events.model import Event
from metrics_core.families.base import Context, state_key
from metrics_core.families.changes import Changes, field_name
from metrics_core.labels import sanitize

DEFAULT_SURVEY = "default"  # the survey label of an answer without `survey_id`
SCALES: Mapping[str, int] = {"nps": 10, "csat": 5, "ces": 7}  # top of each scale (CSAT may declare its own)


class Answer(NamedTuple):
    """One version of one answer, with the (folded) labels it is counted under."""

    ts_ms: int
    tie: str  # a hash of the event id: breaks equal event times the same way in any order
    score: int
    scale_max: int
    prop: str
    survey: str


@dataclass(frozen=True)
class Response:
    """A response as it stands: its anchor and its current answer per type (nps, csat, ces)."""

    first_ms: int
    answers: Mapping[str, Answer] = field(default_factory=dict)


def nps_category(score: int) -> str:
    """NPS category of a 0..10 score.

    >>> [nps_category(s) for s in (10, 9, 8, 7, 6, 0)]
    ['promoter', 'promoter', 'passive', 'passive', 'detractor', 'detractor']
    """
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def is_top_two_box(score: int, scale_max: int) -> bool:
    """CSAT top-2-box: the two highest points of the declared scale (4-5 of 5, 6-7 of 7, 9-10 of 10).

    >>> [is_top_two_box(s, m) for s, m in ((4, 5), (3, 5), (6, 7), (5, 7), (9, 10), (8, 10))]
    [True, False, True, False, True, False]
    """
    return score >= scale_max - 1


Fields = list[tuple[str, int]]


def _nps(a: Answer) -> Fields:
    return [(field_name("np", a.prop, a.survey, nps_category(a.score)), 1)]


def _csat(a: Answer) -> Fields:
    return [
        (field_name("cr", a.prop, a.survey), 1),
        (field_name("cp", a.prop, a.survey), int(is_top_two_box(a.score, a.scale_max))),
    ]


def _ces(a: Answer) -> Fields:
    return [(field_name("er", a.prop, a.survey), 1), (field_name("es", a.prop, a.survey), a.score)]


# What one answer adds to the counters, by answer type (the event type's name).
CONTRIBUTIONS: Mapping[str, Callable[[Answer], Fields]] = {"nps": _nps, "csat": _csat, "ces": _ces}


def contribution(response: Response) -> Fields:
    """The counter fields a response adds, all at its anchor.

    >>> a = Answer(5_000, "t", 9, 10, "shop", "default")
    >>> contribution(Response(1_000, {"nps": a}))
    [('np\\x1fshop\\x1fdefault\\x1fpromoter', 1)]
    """
    return [f for kind, answer in sorted(response.answers.items()) for f in CONTRIBUTIONS[kind](answer)]


def revise(response: Response | None, kind: str, answer: Answer) -> Response:
    """The response after one more event: the latest version of each answer wins; the anchor is
    the earliest event time seen. The order of calls does not matter.

    >>> old, new = Answer(2_000, "a", 3, 10, "p", "s"), Answer(9_000, "b", 10, 10, "p", "s")
    >>> r = revise(revise(None, "nps", new), "nps", old)   # the update arrives first
    >>> r.first_ms, r.answers["nps"].score
    (2000, 10)
    """
    if response is None:
        return Response(answer.ts_ms, {kind: answer})
    current = response.answers.get(kind)
    answers = dict(response.answers)
    if current is None or (answer.ts_ms, answer.tie) > (current.ts_ms, current.tie):
        answers[kind] = answer
    return Response(min(response.first_ms, answer.ts_ms), answers)


def tie_of(event_id: str) -> str:
    """A short, non-reversible stand-in for the event id (event ids are not stored)."""
    return hashlib.blake2b(event_id.encode(), digest_size=6).hexdigest()


def dump(response: Response) -> bytes:
    return orjson.dumps({"f": response.first_ms, "a": {k: list(a) for k, a in response.answers.items()}})


def load(raw: bytes | None, live_from_ms: int) -> Response | None:
    """A stored response, or None when absent or past retention (Redis would have expired it)."""
    if not raw:
        return None
    data = orjson.loads(raw)
    if data["f"] <= live_from_ms:
        return None
    return Response(data["f"], {k: Answer._make(v) for k, v in data["a"].items()})


def response_entity(event: Event) -> str:
    return state_key("r", event.property, event.fields["response_id"])


def _label(ctx: Context, label: str, value: str) -> str:
    return ctx.labels.fold(label, value, ctx.now_ms)


def answer_of(event: Event, ctx: Context) -> Answer:
    """The event as an answer version, its labels sanitised and folded under the cap."""
    fields = event.fields
    survey = fields.get("survey_id")
    return Answer(
        event.ts_ms,
        tie_of(event.event_id),
        int(fields["score"]),
        int(fields.get("scale_max", SCALES[event.name])),
        _label(ctx, "property", sanitize(event.property)),
        _label(ctx, "survey", sanitize(survey) if survey else DEFAULT_SURVEY),
    )


def _record(response: Response | None, sign: int, changes: Changes) -> None:
    if response is not None:
        for name, n in contribution(response):
            changes.count(response.first_ms, name, sign * n)


class SurveyFamily:
    """Survey events -> per-response state and anchored counters (DESIGN §4: anchoring)."""

    name = "survey"

    def state_keys(self, events: Sequence[Event]) -> set[str]:
        return {response_entity(e) for e in events}

    def apply(
        self, events: Sequence[Event], states: Mapping[str, bytes | None], ctx: Context, changes: Changes
    ) -> None:
        by_response: defaultdict[str, list[Event]] = defaultdict(list)
        for event in events:
            by_response[response_entity(event)].append(event)
        live_from_ms = ctx.now_ms - ctx.retention_ms
        for key, response_events in by_response.items():
            before = load(states.get(key), live_from_ms)
            first, *rest = response_events
            after = revise(before, first.name, answer_of(first, ctx))
            for event in rest:
                after = revise(after, event.name, answer_of(event, ctx))
            _record(before, -1, changes)
            _record(after, +1, changes)
            changes.put_state(key, dump(after), after.first_ms + ctx.retention_ms)
