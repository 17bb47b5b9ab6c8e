"""Project-wide pytest hooks: the modules setup.py compiles with mypyc are tested compiled.

`pip install -e .` builds their extensions beside the sources, and Python imports the
extension. Two consequences handled here: a source edited after its build would be tested
stale, so the session stops and says so; and pytest cannot collect doctests from an
extension module, so tests/unit/test_compiled_doctests.py runs those from the sources.
"""

from __future__ import annotations

import importlib.machinery
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


def compiled() -> dict[Path, Path]:
    """Each source under metrics_core/ that has a compiled extension beside it -> that extension."""
    found = {}
    for source in sorted((ROOT / "metrics_core").rglob("*.py")):
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            extension = source.with_suffix(suffix)
            if extension.exists():
                found[source] = extension
    return found


COMPILED = compiled()


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    return True if collection_path in COMPILED else None


def pytest_sessionstart(session: pytest.Session) -> None:
    stale = [s for s, ext in COMPILED.items() if s.stat().st_mtime > ext.stat().st_mtime]
    if stale:
        names = ", ".join(str(s.relative_to(ROOT)) for s in stale)
        pytest.exit(
            f"{names} changed after it was compiled: the tests would run the old code. "
            "Rebuild with `make venv` (or `.venv/bin/pip install -e .`; PULSE_PURE=1 for plain Python).",
            returncode=2,
        )
