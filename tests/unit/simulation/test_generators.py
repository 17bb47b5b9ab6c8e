"""Every simulated event is valid, keyed as the worker routes it, free of personal data, and
the traffic is reproducible from its seed."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from typing import Any

import pytest

from metrics_core.events.decode import decode_json
from metrics_core.events.model import Event
from metrics_core.events.schema import TYPES
from metrics_core.routing import routing_key
from streams.simulation.base import Choice, Pool
from streams.simulation.mix import GENERATORS, WEIGHTS, Traffic, routing, timeline
from streams.simulation.scenarios import FAMILIES, SCENARIOS

START_MS = 1_700_000_000_000
HOUR_MS = 3_600_000
RANDOM_ID = re.compile(r"[a-z]+-[0-9a-f]{10,}$")  # `msg-3fa4c2d19b7e`, not `user-42` or `cmp-0001`
PERSONAL = ("email", "e-mail", "name", "first_name", "last_name", "phone", "address", "ip")


def simulate(
    families: tuple[str, ...] | list[str],
    seconds: int,
    rate: float,
    scenario: str = "steady",
    seed: int = 11,
    start_ms: int = START_MS,
    scenario_at_s: float = 0.0,
) -> list[tuple[int, dict[str, Any]]]:
    """`(tick_ms, event)` for `seconds` of simulated time at `rate` events/s."""
    traffic = Traffic(seed, start_ms, scenario, scenario_at_s, families)
    ticks = timeline(traffic, start_ms, rate, tick_ms=1000)
    return [(t, e) for t, events in itertools.islice(ticks, seconds) for e in events]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("family", FAMILIES)
def test_every_event_is_valid_keyed_and_free_of_personal_data(family: str, scenario: str) -> None:
    stamped = simulate([family], seconds=600, rate=5, scenario=scenario)  # 3,000 events
    assert len(stamped) >= 3000
    topic = GENERATORS[family].family
    for tick_ms, payload in stamped:
        decoded = decode_json(payload, topic, now_ms=tick_ms)
        assert isinstance(decoded, Event), (decoded, payload)
        assert decoded.ts_ms <= tick_ms  # never stamped after the clock that produced it
        assert routing(payload) == routing_key(decoded).encode()
        assert not any(field in payload for field in PERSONAL), payload
        assert not any(isinstance(v, str) and "@" in v for v in payload.values()), payload


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_produces_all_its_types(family: str) -> None:
    topic = GENERATORS[family].family
    seen = Counter(e["type"] for _, e in simulate([family], seconds=4 * 3600, rate=1, seed=3))
    rare = {"email.spam_reported"}  # 0.02 % of deliveries: not in every few thousand events
    expected = {t for t in TYPES if t.startswith(f"{topic}.")} - rare
    assert expected <= set(seen), expected - set(seen)
    assert all(t.startswith(f"{topic}.") for t in seen)


def test_the_mix_follows_the_weights() -> None:
    seen = Counter(
        payload["type"].partition(".")[0] for _, payload in simulate(FAMILIES, seconds=200, rate=100)
    )
    total = sum(seen.values())
    for family, weight in WEIGHTS.items():
        assert seen[GENERATORS[family].family] / total == pytest.approx(weight, abs=0.015), family


def test_same_seed_same_events_other_seed_other_events() -> None:
    first = simulate(FAMILIES, seconds=120, rate=50, seed=5)
    assert first == simulate(FAMILIES, seconds=120, rate=50, seed=5)
    assert first != simulate(FAMILIES, seconds=120, rate=50, seed=6)


def test_a_later_run_of_a_seed_has_the_same_traffic_under_fresh_ids() -> None:
    """So a second run is not dropped as duplicates of the first: only ids and times differ."""
    first = simulate(FAMILIES, seconds=120, rate=50, seed=5)
    later = simulate(FAMILIES, seconds=120, rate=50, seed=5, start_ms=START_MS + HOUR_MS)

    def shape(e: dict[str, Any]) -> tuple[Any, ...]:  # all but the time and the random ids
        return tuple(
            (k, v) for k, v in e.items() if k not in ("event_id", "timestamp") and not RANDOM_ID.match(str(v))
        )

    assert [shape(e) for _, e in first] == [shape(e) for _, e in later]
    assert [e["timestamp"] + 3600 for _, e in first] == [e["timestamp"] for _, e in later]
    assert not {e["event_id"] for _, e in first} & {e["event_id"] for _, e in later}


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "steady"])
def test_before_its_cue_a_scenario_is_the_steady_traffic(scenario: str) -> None:
    cue_s = 300
    steady = simulate(FAMILIES, seconds=600, rate=40, seed=9)
    shifted = simulate(FAMILIES, seconds=600, rate=40, seed=9, scenario=scenario, scenario_at_s=cue_s)
    before = [e for t, e in steady if t < START_MS + cue_s * 1000]
    assert before == [e for t, e in shifted if t < START_MS + cue_s * 1000]
    assert steady != shifted


@pytest.mark.parametrize("family", FAMILIES)
def test_memory_stays_bounded_over_a_long_run(family: str) -> None:
    """Follow-ups in flight level off: the generator keeps no growing backlog (O(1) per event)."""
    traffic = Traffic(1, START_MS, families=[family])
    ticks = timeline(traffic, START_MS, rate=2, tick_ms=10_000)
    in_flight = []
    for _hour in range(6):
        for _ in itertools.islice(ticks, 360):
            pass
        in_flight.append(traffic.generators[family].in_flight)
    assert max(in_flight[2:]) < 2 * in_flight[1] + 100, in_flight


def test_choice_and_pool() -> None:
    rng = random.Random(1)
    picks = Counter(Choice({"a": 3, "b": 1, "never": 0}).pick(rng) for _ in range(4000))
    assert set(picks) == {"a", "b"} and picks["a"] / 4000 == pytest.approx(0.75, abs=0.03)
    with pytest.raises(ValueError):
        Choice({"x": 0})
    pool: Pool[int] = Pool(limit=3)
    for i in range(5):
        pool.add(i)
    assert len(pool) == 3 and sorted(pool.take(rng) for _ in range(3)) == [2, 3, 4]  # 0 and 1 forgotten
    assert not pool


def test_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown families"):
        Traffic(1, START_MS, families=["web", "fax"])
