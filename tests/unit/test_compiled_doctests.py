"""The doctests of the modules compiled with mypyc, run from their sources (see ../../conftest.py)."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from pathlib import Path

import pytest

from conftest import COMPILED, ROOT


@pytest.mark.parametrize("source", sorted(COMPILED), ids=lambda p: str(p.relative_to(ROOT)))
def test_doctests_of_a_compiled_module(source: Path) -> None:
    name = "pulse_doctest_" + "_".join(source.relative_to(ROOT).with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(name, source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
        # the module runs under another name: an exception's qualified name differs, not its type
        flags = doctest.ELLIPSIS | doctest.IGNORE_EXCEPTION_DETAIL
        failed, attempted = doctest.testmod(module, optionflags=flags)
    finally:
        del sys.modules[name]
    assert failed == 0, f"{failed} of {attempted} doctest examples failed in {source.name}"
