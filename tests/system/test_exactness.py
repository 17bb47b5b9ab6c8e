"""The exactness harness at its CI size: every exported value exact after the violence.

The full size is a command, not a test: `make exactness` (README, Guarantees). How many
records the power loss takes back depends on what the workers were doing at that moment (none,
when they were all rebalancing); tests/system/test_recovery_point.py makes sure of a loss.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.system import redis_crash
from tests.system.exactness import CI, run, summary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(600),
]


@pytest.fixture(autouse=True)
def _debian_redis() -> None:
    """Never skipped: without Debian's redis-server and redis-check-aof the test fails, saying why."""
    if not redis_crash.available():
        pytest.fail("needs Debian's redis-server and redis-check-aof: run `make tools`", pytrace=False)


def test_every_value_is_exact_after_kills_rebalances_outages_and_duplicates(tmp_path: Path) -> None:
    report = asyncio.run(run(CI, seed=20261122, workdir=tmp_path))
    print(summary([report]))
    assert report.exact, summary([report])
    assert report.actions == CI.actions  # all the violence happened
    assert report.unexpected_worker_exits == 0
    assert report.duplicates_sent > 0.09 * report.events and report.garbage_sent > 0
    assert report.exporter_scrapes["up"] > 0
