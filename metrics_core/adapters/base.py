"""What every vendor adapter shares: its result, its options, and total accessors for JSON."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from metrics_core.events.schema import MAX_STRING_CHARS

NativeEvent = dict[str, Any]  # one DESIGN §3 event, not yet validated


class AdapterError(ValueError):
    """The payload as a whole has the wrong shape (e.g. an object where an array belongs).

    Single bad items never raise: they are mapped as well as they can be and the validator
    rejects them with a reason naming the field at fault.
    """


@dataclass(frozen=True, slots=True)
class Options:
    """What an adapter needs from outside the payload: the property, the conversion names."""

    property: str = "default"
    conversions: frozenset[str] = frozenset({"Order Completed", "Signed Up"})


@dataclass(slots=True)
class AdapterResult:
    """Native events (with the index of the vendor item each came from) and ignored kinds.

    >>> result = AdapterResult()
    >>> result.add({"event_id": "e1"}, origin=3); result.ignore("deferred")
    >>> result.origins, dict(result.ignored)
    ([3], {'deferred': 1})
    """

    # native events; a vendor item that is not even an object is passed on as it is, so that
    # validation rejects it (not_an_object) with every other bad event, by the same core code
    events: list[Any] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    origins: list[int] = field(default_factory=list)  # index in the vendor payload, per event

    def add(self, event: object, origin: int = 0) -> None:
        self.events.append(event)
        self.origins.append(origin)

    def ignore(self, kind: str) -> None:
        self.ignored[kind] += 1


Adapter = Callable[[object, Options], AdapterResult]


def dig(value: object, *path: str) -> object:
    """`value[path[0]][path[1]]...`, or None as soon as a step is not an object or lacks the key.

    >>> dig({"a": {"b": 1}}, "a", "b"), dig({"a": [1]}, "a", "b"), dig("x", "a")
    (1, None, None)
    """
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def first(*values: object) -> object:
    """The first value that is neither None nor "" (None if there is none).

    >>> first(None, "", "/docs", "/")
    '/docs'
    """
    return next((v for v in values if v is not None and v != ""), None)


def clip(value: object) -> object:
    """Free text cut to the schema's limit: a long title must not cost the whole event.

    Ids are never clipped (two ids sharing a prefix would merge); only free text is.
    """
    return value[:MAX_STRING_CHARS] if isinstance(value, str) else value


def compact(event: NativeEvent) -> NativeEvent:
    """Leave out fields that are None: the schema's "not given".

    >>> compact({"a": 1, "b": None})
    {'a': 1}
    """
    return {k: v for k, v in event.items() if v is not None}


def pseudonym(address: object) -> str | None:
    """The hex SHA-256 of a lower-cased, trimmed e-mail address: an id that is never the address.

    >>> pseudonym(" Ann@Example.com") == pseudonym("ann@example.com")
    True
    >>> pseudonym(None) is None
    True
    """
    if not isinstance(address, str) or not address.strip():
        return None
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def kind_of(value: object) -> str:
    """A vendor's event kind for the `ignored` tally: the string itself, else its JSON type.

    >>> kind_of("customer.created"), kind_of(None), kind_of(7)
    ('customer.created', 'missing', 'int')
    """
    if isinstance(value, str):
        return value or "missing"
    return "missing" if value is None else type(value).__name__
