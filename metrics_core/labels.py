"""Label values from untrusted input: sanitised, and capped per label (the rest fold to __other__)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

OTHER = "__other__"
MAX_LABEL_CHARS = 128

_EMAIL = re.compile(r"[^\s@/?#&=]+@[^\s@/?#&=]+\.[A-Za-z]{2,}")


@lru_cache(maxsize=65_536)  # label values repeat heavily; this runs per event
def sanitize(value: str) -> str:
    """A safe label value: printable, no e-mail addresses, at most 128 characters.

    >>> sanitize("promo\\n\\x00bar"), sanitize("ann@example.com signup"), sanitize("a\\u200bb")
    ('promobar', '<email> signup', 'ab')
    """
    printable = "".join(ch for ch in value if ch.isprintable())
    clean = _EMAIL.sub("<email>", printable).strip()
    return clean[:MAX_LABEL_CHARS] or "none"


def sanitize_page(page: str) -> str:
    """A page label: the path without query string or fragment (they carry ids and personal data).

    >>> sanitize_page("/checkout?email=a@b.co#top")
    '/checkout'
    """
    return sanitize(page.split("?", 1)[0].split("#", 1)[0])


@dataclass
class LabelCap:
    """The admitted values of each label in one shard, and what a batch admits or touches.

    `known[label]` maps value -> last seen ms. A value is admitted while the label holds fewer
    than `cap` values; afterwards new values fold into `__other__`. Values unseen for the
    retention horizon are released, so the set follows what is live.
    """

    cap: int
    known: dict[str, dict[str, int]] = field(default_factory=dict)
    touched: dict[str, dict[str, int]] = field(default_factory=dict)

    def fold(self, label: str, value: str, now_ms: int) -> str:
        values = self.known.setdefault(label, {})
        if value not in values:
            if len(values) >= self.cap:
                return OTHER
            values[value] = now_ms
        elif values[value] >= now_ms:
            return value
        values[value] = now_ms
        self.touched.setdefault(label, {})[value] = now_ms
        return value

    def expire(self, older_than_ms: int) -> dict[str, list[str]]:
        """Release values last seen before `older_than_ms`; returns them by label."""
        released: dict[str, list[str]] = {}
        for label, values in self.known.items():
            old = [v for v, seen in values.items() if seen < older_than_ms]
            for v in old:
                del values[v]
            if old:
                released[label] = old
        return released

    def take_touched(self) -> dict[str, dict[str, int]]:
        touched, self.touched = self.touched, {}
        return touched

    @classmethod
    def load(cls, cap: int, known: Mapping[str, Mapping[str, int]]) -> LabelCap:
        return cls(cap, {label: dict(values) for label, values in known.items()})


def kept_values(weights: Mapping[str, float], cap: int) -> frozenset[str]:
    """Exporter-side cap: shards admit values independently, so their union may pass the cap.

    Keeps the `cap` heaviest values (ties by name); everything else is shown as `__other__`.

    >>> sorted(kept_values({"/a": 5, "/b": 1, "/c": 3}, 2))
    ['/a', '/c']
    """
    ranked = sorted((v for v in weights if v != OTHER), key=lambda v: (-weights[v], v))
    return frozenset(ranked[:cap])


def fold(values: Mapping[str, float], kept: frozenset[str]) -> dict[str, float]:
    """Sum every value outside `kept` into `__other__`."""
    folded: dict[str, float] = {}
    for name, number in values.items():
        key = name if name in kept else OTHER
        folded[key] = folded.get(key, 0) + number
    return folded
