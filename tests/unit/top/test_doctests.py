"""The examples in the docstrings of streams.top are true (streams/ is not in testpaths)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["streams.top.fmt", "streams.top.reading", "streams.top.render", "streams.commands"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
