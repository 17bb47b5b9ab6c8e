"""The exactness harness at its CI size: every exported value exact after the violence.

The full size is a command, not a test: `make exactness` (README, Guarantees).
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
    pytest.mark.skipif(not redis_crash.available(), reason="needs Debian's redis-server (`make tools`)"),
]


def test_every_value_is_exact_after_kills_rebalances_outages_and_duplicates(tmp_path: Path) -> None:
    report = asyncio.run(run(CI, seed=20261122, workdir=tmp_path))
    print(summary([report]))
    assert report.exact, summary([report])
    assert report.actions == CI.actions  # all the violence happened
    assert report.unexpected_worker_exits == 0
    assert report.records_lost_by_power_losses > 0  # the AOF cut took commits back...
    assert report.duplicates_sent > 0.09 * report.events and report.garbage_sent > 0
    assert report.exporter_scrapes["up"] > 0
