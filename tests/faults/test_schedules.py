"""Seeded random schedules against the real server, through the fault proxy (CI budget).

Every schedule runs in parallel with the others (two at a time) the first time any test
of this module asks for it; each seed is its own test so a failure names its seed, its
minimal steps and the replay command.
"""

from __future__ import annotations

import pytest

from syncd.soak import Options, Result, run_many

CI_SEEDS = range(1000, 1012)
CI_OPTIONS = Options(clients=2, steps=6, faults=True)
JOBS = 2
# All schedules run in the setup of the first test: give that one the whole budget.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def results() -> dict[int, Result]:
    return {r.seed: r for r in run_many(CI_SEEDS, CI_OPTIONS, jobs=JOBS, shrink_budget=0)}


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_schedule_converges_without_loss(seed: int, results: dict[int, Result]) -> None:
    result = results[seed]
    replay = (
        f"replay: python -m syncd.soak --schedules 1 --seed-start {seed} --faults "
        f"--clients {CI_OPTIONS.clients} --steps {CI_OPTIONS.steps}"
    )
    assert not result.failures, result.report() + "\n" + replay


def test_the_ci_schedules_exercise_every_kind_of_step(results: dict[int, Result]) -> None:
    kinds = {step.kind for r in results.values() for step in r.steps}
    assert {"sync", "kill", "write", "edit", "delete", "rename", "move", "fault"} <= kinds
    assert any(r.base_only for r in results.values())
    assert any(not r.base_only for r in results.values())
