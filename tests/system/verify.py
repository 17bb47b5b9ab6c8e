"""Compare a scrape with the expected values: exact, HyperLogLogs within a tolerance."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.system.reference import Expected, Key

HLL_TOLERANCE = 0.02  # Redis HyperLogLog: 0.81 % standard error; 2 % is about 2.5 sigma


@dataclass
class Verdict:
    compared: int = 0  # expected samples checked
    zeros: int = 0  # other exported samples of the compared metrics, all 0
    approximate: int = 0
    worst_hll_error: float = 0.0
    mismatches: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.mismatches


def verify(expected: Expected, found: Mapping[Key, float], hll_tolerance: float = HLL_TOLERANCE) -> Verdict:
    """Every expected sample must be exported with its value; nothing else of those metrics but 0."""
    verdict = Verdict()
    for key, want in sorted(expected.values.items(), key=lambda kv: (kv[0][0], sorted(kv[0][1]))):
        got = found.get(key)
        verdict.compared += 1
        if got is None:
            verdict.mismatches.append(f"{_show(key)}: missing, expected {want.value:g}")
        elif want.approximate:
            verdict.approximate += 1
            error = abs(got - want.value) / max(want.value, 1.0)
            verdict.worst_hll_error = max(verdict.worst_hll_error, error)
            if error > hll_tolerance:
                verdict.mismatches.append(
                    f"{_show(key)} = {got:g}, expected {want.value:g} ± {hll_tolerance:.0%}"
                )
        elif not math.isclose(got, want.value, rel_tol=1e-9, abs_tol=1e-9):
            verdict.mismatches.append(f"{_show(key)} = {got:g}, expected {want.value:g}")
    for key, got in found.items():
        if key[0] in expected.names and key not in expected.values:
            if got == 0:
                verdict.zeros += 1
            else:
                verdict.mismatches.append(f"{_show(key)} = {got:g}, expected none (or 0)")
    return verdict


def _show(key: Key) -> str:
    name, labels = key
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels)) + "}"
