"""The worker collects the young generation rarely: a batch holds thousands of young objects."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from streams.worker import GC_GEN0_THRESHOLD, collect_rarely


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_collect_rarely_raises_only_the_young_threshold(restore_gc: None) -> None:
    gc.set_threshold(700, 10, 10)
    collect_rarely()
    assert gc.get_threshold() == (GC_GEN0_THRESHOLD, 10, 10)
    # a 500-event batch keeps a few thousand objects alive: under one collection per batch
    assert GC_GEN0_THRESHOLD >= 20 * 500
