"""Compiles the per-event modules with mypyc; the rest of the build is in pyproject.toml.

The worker spends most of its CPU in these modules (decode and validate, route, fold labels,
count, sessions): compiled to C they cost about 15 % less per event (BENCHMARKS.md). Set
PULSE_PURE=1 to install plain Python (no C compiler needed; the same results, slower).
"""

import os

from setuptools import setup

COMPILED = [  # listed in tests/conftest.py's staleness check through this file
    "metrics_core/events/decode.py",
    "metrics_core/events/model.py",
    "metrics_core/events/schema.py",
    "metrics_core/events/timestamps.py",
    "metrics_core/families/base.py",
    "metrics_core/families/changes.py",
    "metrics_core/families/customer.py",
    "metrics_core/families/email.py",
    "metrics_core/families/ledger.py",
    "metrics_core/families/sessions.py",
    "metrics_core/families/social.py",
    "metrics_core/families/survey.py",
    "metrics_core/families/tickets.py",
    "metrics_core/families/web.py",
    "metrics_core/formulas.py",
    "metrics_core/labels.py",
    "metrics_core/routing.py",
    "metrics_core/store/base.py",
    "metrics_core/windows.py",
]

if os.environ.get("PULSE_PURE", "") not in ("", "0"):
    setup()
else:
    from mypyc.build import mypycify

    setup(ext_modules=mypycify(COMPILED, opt_level="3"))
