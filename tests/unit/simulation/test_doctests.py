"""The examples in the docstrings of streams.simulation are true (streams/ is not in testpaths)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "streams.simulation.web",
    "streams.simulation.email",
    "streams.simulation.social",
    "streams.simulation.survey",
    "streams.simulation.customer",
    "streams.simulation.mix",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
