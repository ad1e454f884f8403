"""Seeded, fault-injected, randomized end-to-end schedules: the soak harness of syncd.

    steps.generate(seed) -> apply() each step to a World (server + proxy + clients)
      -> settle (sync until quiet) -> checks.check_world -> Result (+ shrink on failure)

``python -m syncd.soak --schedules N --seed-start S`` runs many; the test suite runs a few.
``harness`` (the ``syncd serve`` / ``syncd run`` subprocesses) is used by the tests, the
benches and ``syncd demo`` too, so the names below load on first use: importing the
harness does not load the whole soak.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "Options": "schedule",
    "Result": "schedule",
    "Step": "steps",
    "generate": "steps",
    "run_many": "runner",
    "run_schedule": "schedule",
    "shrink": "schedule",
    "steps_for": "schedule",
    "summary_line": "runner",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
