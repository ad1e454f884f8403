"""Seeded, fault-injected, randomized end-to-end schedules: the soak harness of syncd.

    steps.generate(seed) -> apply() each step to a World (server + proxy + clients)
      -> settle (sync until quiet) -> checks.check_world -> Result (+ shrink on failure)

``python -m syncd.soak --schedules N --seed-start S`` runs many; the test suite runs a few.
"""

from syncd.soak.runner import run_many, summary_line
from syncd.soak.schedule import Options, Result, run_schedule, shrink, steps_for
from syncd.soak.steps import Step, generate

__all__ = [
    "Options",
    "Result",
    "Step",
    "generate",
    "run_many",
    "run_schedule",
    "shrink",
    "steps_for",
    "summary_line",
]
