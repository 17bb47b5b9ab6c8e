"""The event types of DESIGN §3 as one declarative table: fields, their kinds and defaults."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from metrics_core.events.model import Reason

# A check looks at one JSON value and says what is wrong with it, or None when it is good.
Check = Callable[[object], Reason | None]

# A relation between fields of one event, run after each field passed its own check:
# None when the fields agree, else (the field at fault, what it should be).
Relation = Callable[[Mapping[str, Any]], tuple[str, str] | None]

MAX_STRING_CHARS = 256
# Counters live in Redis, whose Lua numbers are doubles: 2**53 − 1 is the largest integer a
# double holds exactly, so no count, snapshot or amount above it can be summed faithfully.
MAX_SAFE_NUMBER = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Kind:
    """How one field is checked, with the words a rejection uses to say what was expected."""

    label: str  # noun for "is missing (required <label>)"
    expected: str  # the whole rule, for "expected <expected>"
    check: Check
    blank_is_absent: bool = True  # "" means "not given"; False for free text, where "" is a value
    max_chars: int | None = None  # set on plain string kinds: lets the decoder skip `check`


def ident(max_chars: int = MAX_STRING_CHARS) -> Kind:
    """A non-empty id-like string (an empty one counts as absent).

    >>> ident().check("u-1") is None, ident(3).check("abcd")
    (True, <Reason.STRING_TOO_LONG: 'string_too_long'>)
    """
    return Kind("string", f"a string of 1..{max_chars} chars", _string_check(max_chars), True, max_chars)


def text(max_chars: int = MAX_STRING_CHARS) -> Kind:
    """Free text such as a title or a referrer; may be empty.

    >>> text().check("") is None
    True
    """
    return Kind(
        "string", f"a string of at most {max_chars} chars", _string_check(max_chars), False, max_chars
    )


def _string_check(max_chars: int) -> Check:
    def check(value: object) -> Reason | None:
        if not isinstance(value, str):
            return Reason.WRONG_TYPE
        return Reason.STRING_TOO_LONG if len(value) > max_chars else None

    return check


def boolean() -> Kind:
    """A JSON true or false; 0, 1, "true" are refused.

    >>> boolean().check(1)
    <Reason.WRONG_TYPE: 'wrong_type'>
    """

    def check(value: object) -> Reason | None:
        return None if isinstance(value, bool) else Reason.WRONG_TYPE

    return Kind("boolean", "true or false", check)


def integer(lo: int, hi: int = MAX_SAFE_NUMBER, among: frozenset[int] | None = None) -> Kind:
    """A JSON integer in lo..hi (and in `among`, when given).

    Strict on purpose: true/false are not 1/0, and 3.0 is refused (wrong_type) although it is
    integral: a float where a count or score belongs is a producer bug worth seeing in the DLQ.

    >>> [str(integer(0, 10).check(v)) for v in (11, 3.0, True, 7)]
    ['out_of_range', 'wrong_type', 'wrong_type', 'None']
    """
    allowed = among if among is not None else range(lo, hi + 1)  # range: O(1) `in`

    def check(value: object) -> Reason | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return Reason.WRONG_TYPE
        return None if value in allowed else Reason.OUT_OF_RANGE

    if among is not None:
        return Kind("integer", f"an integer, one of {_listing(among)}", check)
    return Kind("integer", f"an integer {_span(lo, hi)}", check)


def number(lo: float, hi: float = MAX_SAFE_NUMBER) -> Kind:
    """A finite JSON number (integer or fraction) in lo..hi.

    >>> number(0).check(-0.5), number(0).check(float("nan")), number(0).check(9.99) is None
    (<Reason.OUT_OF_RANGE: 'out_of_range'>, <Reason.OUT_OF_RANGE: 'out_of_range'>, True)
    """

    def check(value: object) -> Reason | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return Reason.WRONG_TYPE
        # the chained comparison is False for nan and for ±inf, so no isfinite() is needed
        return None if lo <= value <= hi else Reason.OUT_OF_RANGE

    return Kind("number", f"a number {_span(lo, hi)}", check)


def enum(*allowed: str) -> Kind:
    """One string out of a fixed set.

    >>> enum("hard", "soft").check("Hard")
    <Reason.OUT_OF_RANGE: 'out_of_range'>
    """
    choices = frozenset(allowed)

    def check(value: object) -> Reason | None:
        if not isinstance(value, str):
            return Reason.WRONG_TYPE
        if value in choices:
            return None
        return Reason.STRING_TOO_LONG if len(value) > MAX_STRING_CHARS else Reason.OUT_OF_RANGE

    return Kind("string", f"one of {_listing(choices)}", check)


def currency() -> Kind:
    """An ISO 4217 code: exactly three ASCII capital letters (not upper-cased for the sender).

    >>> currency().check("EUR") is None, currency().check("usd")
    (True, <Reason.OUT_OF_RANGE: 'out_of_range'>)
    """

    def check(value: object) -> Reason | None:
        if not isinstance(value, str):
            return Reason.WRONG_TYPE
        if len(value) == 3 and value.isascii() and value.isalpha() and value.isupper():
            return None
        return Reason.STRING_TOO_LONG if len(value) > MAX_STRING_CHARS else Reason.OUT_OF_RANGE

    return Kind("currency code", "an ISO 4217 code of 3 capital letters, e.g. 'USD'", check)


def _span(lo: float, hi: float) -> str:
    return f"{lo:g}..{'2**53-1' if hi == MAX_SAFE_NUMBER else f'{hi:g}'}"


def _listing(values: frozenset[Any]) -> str:
    return ", ".join(str(v) for v in sorted(values))


@dataclass(frozen=True, slots=True)
class TypeSpec:
    """The fields of one event type. Fields not named here are ignored (forward compatible).

    `one_of`: at least one of these fields must be given. `defaults`: values put into
    `Event.fields` when an optional field is absent. `relations`: checks across fields.
    """

    required: Mapping[str, Kind] = field(default_factory=dict)
    optional: Mapping[str, Kind] = field(default_factory=dict)
    one_of: Mapping[str, Kind] = field(default_factory=dict)
    defaults: Mapping[str, object] = field(default_factory=dict)
    relations: tuple[Relation, ...] = ()


def family_of(event_type: str) -> str:
    """The family (topic) of an event type.

    >>> family_of("email.opened")
    'email'
    """
    return event_type.partition(".")[0]


def _score_within_scale(fields: Mapping[str, Any]) -> tuple[str, str] | None:
    """A CSAT score cannot exceed the scale it was given on (6 on a 1..5 scale is nonsense)."""
    scale_max = fields["scale_max"]
    if fields["score"] <= scale_max:
        return None
    return "score", f"an integer 1..{scale_max} (the event's scale_max)"


ID = ident()
TEXT = text()
FLAG = boolean()
COUNT = integer(1)
MONEY = number(0)
VISITOR = {"user_id": ID, "anonymous_id": ID}
_COUNTED = {"count": 1}

_EMAIL = {"message_id": ID, "campaign_id": ID}
_SOCIAL_INTERACTIONS = ("impression", "like", "unlike", "comment", "share", "save", "click")


def _email(**optional: Kind) -> TypeSpec:
    return TypeSpec(required=_EMAIL, optional=optional)


TYPES: dict[str, TypeSpec] = {
    # --- clickstream
    "clickstream.page_view": TypeSpec(
        required={"page": ID},
        one_of=VISITOR,
        optional={"session_id": ID, "referrer": TEXT, "title": TEXT, "user_agent": TEXT},
    ),
    "clickstream.impression": TypeSpec(required={"placement": ID}, optional={**VISITOR, "session_id": ID}),
    "clickstream.click": TypeSpec(
        required={"placement": ID}, optional={"target": TEXT, **VISITOR, "session_id": ID}
    ),
    "clickstream.conversion": TypeSpec(
        required={"goal": ID}, one_of=VISITOR, optional={"value": MONEY, "session_id": ID}
    ),
    "clickstream.feature_used": TypeSpec(required={"feature": ID, "user_id": ID}),
    # --- email: every type names the message and its campaign
    "email.sent": _email(recipient_id=ID),
    "email.delivered": _email(recipient_id=ID),
    "email.dropped": _email(recipient_id=ID),
    "email.spam_reported": _email(recipient_id=ID),
    "email.bounced": _email(bounce_type=enum("hard", "soft", "blocked")),
    "email.opened": _email(machine=FLAG),  # machine: Apple MPP / proxy pre-fetch
    "email.clicked": _email(url=TEXT, bot=FLAG),  # bot: a link scanner
    "email.unsubscribed": _email(scope=enum("global", "group")),
    "email.converted": _email(value=MONEY),
    # --- social
    **{
        f"social.{name}": TypeSpec(
            required={"platform": ID}, optional={"post_id": ID, "count": COUNT}, defaults=_COUNTED
        )
        for name in _SOCIAL_INTERACTIONS
    },
    "social.mention": TypeSpec(required={"platform": ID, "brand": ID, "own": FLAG}, optional={"post_id": ID}),
    **{
        f"social.{name}": TypeSpec(required={"platform": ID}, optional={"count": COUNT}, defaults=_COUNTED)
        for name in ("follow", "unfollow")
    },
    "social.followers": TypeSpec(required={"platform": ID, "followers": integer(0)}),
    "social.inbound_message": TypeSpec(required={"platform": ID, "conversation_id": ID}),
    "social.reply": TypeSpec(required={"platform": ID, "conversation_id": ID}),
    # --- survey
    "survey.nps": TypeSpec(required={"response_id": ID, "score": integer(0, 10)}, optional={"survey_id": ID}),
    "survey.csat": TypeSpec(
        required={"response_id": ID, "score": integer(1, 10)},
        optional={"scale_max": integer(1, 10, among=frozenset({5, 7, 10})), "survey_id": ID},
        defaults={"scale_max": 5},
        relations=(_score_within_scale,),  # score 1..scale_max
    ),
    "survey.ces": TypeSpec(required={"response_id": ID, "score": integer(1, 7)}, optional={"survey_id": ID}),
    # --- customer
    "customer.subscription_started": TypeSpec(required={"customer_id": ID}, optional={"plan": ID}),
    "customer.subscription_reactivated": TypeSpec(required={"customer_id": ID}, optional={"plan": ID}),
    "customer.subscription_cancelled": TypeSpec(
        required={"customer_id": ID},
        optional={"reason": enum("voluntary", "involuntary"), "plan": ID},
    ),
    "customer.order_placed": TypeSpec(
        required={"order_id": ID, "customer_id": ID, "amount": MONEY},
        optional={"currency": currency()},
        defaults={"currency": "USD"},
    ),
    "customer.ticket_opened": TypeSpec(required={"ticket_id": ID}),
    "customer.ticket_resolved": TypeSpec(required={"ticket_id": ID}),
    **{
        f"customer.{name}": TypeSpec(required={"event_name": ID, "attendee_id": ID})
        for name in ("event_registered", "event_attended", "event_interaction")
    },
}
