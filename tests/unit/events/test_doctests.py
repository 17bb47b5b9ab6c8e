"""The examples in the docstrings of metrics_core.events are true."""

from __future__ import annotations

import doctest
import importlib

import pytest

# by name: the package re-exports the function `decode`, which hides the module `decode`
MODULES = [
    "metrics_core.events.decode",
    "metrics_core.events.schema",
    "metrics_core.events.timestamps",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
