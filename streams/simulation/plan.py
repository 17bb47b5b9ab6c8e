"""What to simulate: the `pulse simulate` flags as one value (no Kafka import: the CLI builds it)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from streams.simulation.scenarios import FAMILIES, SCENARIOS


@dataclass(frozen=True)
class Plan:
    """What to simulate: `rate` events/s (steady), until `duration_s` or `count`, whichever first."""

    rate: float
    duration_s: float | None = None
    count: int | None = None
    seed: int = field(default_factory=lambda: random.randrange(1_000_000))
    scenario: str = "steady"
    scenario_at_s: float = 0.0
    families: tuple[str, ...] = FAMILIES

    def __post_init__(self) -> None:
        if not self.rate > 0:
            raise ValueError(f"the rate must be > 0 events/s, got {self.rate}")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}: choose from {', '.join(SCENARIOS)}")
