"""The families together: `Traffic` interleaves them by weight, `timeline` drives it at a rate.

The stream is a pure function of (seed, start time, rate, scenario, cue, families): the same
arguments give the same events. Decisions (who does what, when, which score) come from one
`random.Random` per family seeded by the seed alone; ids come from another seeded by the seed
and the start time, so a second run with the same seed has the same traffic under fresh ids
(Pulse would otherwise drop it all as duplicates of the first run's event ids).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType

from metrics_core.events.model import Event
from metrics_core.routing import routing_key
from streams.simulation.base import Event as Payload
from streams.simulation.base import Generator
from streams.simulation.customer import CustomerTraffic
from streams.simulation.email import EmailTraffic
from streams.simulation.scenarios import FAMILIES, SCENARIOS, STEADY, Scenario
from streams.simulation.social import SocialTraffic
from streams.simulation.survey import SurveyTraffic
from streams.simulation.web import WebTraffic

WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"web": 0.60, "email": 0.20, "social": 0.08, "survey": 0.04, "customer": 0.08}
)
GENERATORS: Mapping[str, type[Generator]] = MappingProxyType(
    {
        "web": WebTraffic,
        "email": EmailTraffic,
        "social": SocialTraffic,
        "survey": SurveyTraffic,
        "customer": CustomerTraffic,
    }
)
TOPIC_FAMILY: Mapping[str, str] = MappingProxyType({name: g.family for name, g in GENERATORS.items()})


class Traffic:
    """Every chosen family at its share of the events; the scenario takes over at its cue.

    >>> t = Traffic(seed=1, start_ms=1_700_000_000_000, scenario="traffic-surge", scenario_at_s=60)
    >>> t.rate_factor(1_700_000_000_000), round(t.rate_factor(1_700_000_060_000), 2)
    (1.0, 3.4)
    >>> len(t.events(1_700_000_000_000, 100))
    100
    """

    def __init__(
        self,
        seed: int,
        start_ms: int,
        scenario: str = "steady",
        scenario_at_s: float = 0.0,
        families: Sequence[str] = FAMILIES,
        properties: Sequence[str] = ("shop",),
    ) -> None:
        unknown = [f for f in families if f not in GENERATORS]
        if unknown or not families:
            raise ValueError(f"unknown families {unknown}: choose from {', '.join(FAMILIES)}")
        self.scenario = SCENARIOS[scenario]
        self.cue_ms = start_ms + int(scenario_at_s * 1000)
        self.families = tuple(dict.fromkeys(families))
        self.generators = {
            f: GENERATORS[f](
                random.Random(f"{seed}/{f}"), properties, random.Random(f"{seed}/{f}/{start_ms}")
            )
            for f in self.families
        }
        self._rng = random.Random(f"{seed}/mix")
        self._mix: dict[str, tuple[list[float], float]] = {}

    def active(self, now_ms: int) -> Scenario:
        return self.scenario if now_ms >= self.cue_ms else STEADY

    def rate_factor(self, now_ms: int) -> float:
        """Events/s at `now_ms` relative to the steady rate (traffic-surge: 3.4 with every family)."""
        return self._weights(self.active(now_ms))[1]

    def _weights(self, scenario: Scenario) -> tuple[list[float], float]:
        found = self._mix.get(scenario.name)
        if found is None:
            steady = sum(WEIGHTS[f] for f in self.families)
            weights = [WEIGHTS[f] * scenario.rate[f] for f in self.families]
            found = self._mix[scenario.name] = (list(itertools.accumulate(weights)), sum(weights) / steady)
        return found

    def events(self, now_ms: int, count: int) -> list[Payload]:
        """The next `count` events of all families, interleaved, stamped at or before `now_ms`."""
        scenario = self.active(now_ms)
        for generator in self.generators.values():
            generator.scenario = scenario
        picks = self._rng.choices(self.families, cum_weights=self._weights(scenario)[0], k=count)
        made = {f: iter(self.generators[f].events(now_ms, n)) for f, n in Counter(picks).items()}
        return [next(made[f]) for f in picks]


def timeline(
    traffic: Traffic, start_ms: int, rate: float, tick_ms: int = 100
) -> Iterator[tuple[int, list[Payload]]]:
    """Endless `(tick_time_ms, events)`: `rate` × the scenario's factor events per second of
    simulated time, each tick's events stamped at or before its time (start + k · tick_ms).

    >>> ticks = timeline(Traffic(seed=1, start_ms=0), 0, rate=25, tick_ms=100)
    >>> [(t, len(events)) for t, events in itertools.islice(ticks, 3)]
    [(100, 2), (200, 3), (300, 2)]
    """
    carry = 0.0
    for k in itertools.count(1):
        now_ms = start_ms + k * tick_ms
        carry += rate * traffic.rate_factor(now_ms) * tick_ms / 1000
        due = int(carry)
        carry -= due
        yield now_ms, traffic.events(now_ms, due)


def routing(event: Payload) -> bytes:
    """The Kafka key Pulse's worker expects: `routing_key` of the event, as bytes.

    >>> routing({"event_id": "e1", "type": "email.opened", "message_id": "m1", "campaign_id": "c"})
    b'm1'
    """
    return routing_key(Event(event["event_id"], event["type"], 0, "", event)).encode()
