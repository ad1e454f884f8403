"""Seeded random schedules against the real server, through the fault proxy (CI budget).

Every schedule runs in parallel with the others (two at a time) the first time any test
of this module asks for it; each seed is its own test so a failure names its seed, its
minimal steps and the replay command.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from syncd.soak import Options, Result, run_many
from tests.support.postgres import cluster_url

CI_SEEDS = range(1000, 1012)
CI_OPTIONS = Options(clients=2, steps=6, faults=True)
# The same, with client 0 running ``syncd run`` throughout instead of one-shot syncs.
DAEMON_SEEDS = range(2000, 2004)
DAEMON_OPTIONS = Options(clients=2, steps=6, faults=True, daemons=1)
# The same again on PostgreSQL, two server processes taking the requests in turn.
PG_SEEDS = range(3000, 3004)
PG_OPTIONS = Options(clients=2, steps=6, faults=True, processes=2)
JOBS = 2
# All schedules run in the setup of the first test: give that one the whole budget.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def results() -> dict[int, Result]:
    return {r.seed: r for r in run_many(CI_SEEDS, CI_OPTIONS, jobs=JOBS, shrink_budget=0)}


@pytest.fixture(scope="module")
def daemon_results() -> dict[int, Result]:
    return {r.seed: r for r in run_many(DAEMON_SEEDS, DAEMON_OPTIONS, jobs=JOBS, shrink_budget=0)}


@pytest.fixture(scope="module")
def pg_results() -> dict[int, Result]:
    options = replace(PG_OPTIONS, database_url=cluster_url())
    return {r.seed: r for r in run_many(PG_SEEDS, options, jobs=JOBS, shrink_budget=0)}


def _replay(seed: int, options: Options) -> str:
    return (
        f"replay: python -m syncd.soak --schedules 1 --seed-start {seed} --faults "
        f"--clients {options.clients} --steps {options.steps} --daemons {options.daemons} "
        f"--processes {options.processes}"
        + (" --database-url $SYNCD_TEST_DATABASE_URL" if options.processes > 1 else "")
    )


@pytest.mark.parametrize("seed", CI_SEEDS)
def test_schedule_converges_without_loss(seed: int, results: dict[int, Result]) -> None:
    result = results[seed]
    assert not result.failures, result.report() + "\n" + _replay(seed, CI_OPTIONS)


@pytest.mark.parametrize("seed", DAEMON_SEEDS)
def test_schedule_with_a_daemon_converges_without_loss(
    seed: int, daemon_results: dict[int, Result]
) -> None:
    result = daemon_results[seed]
    assert not result.failures, result.report() + "\n" + _replay(seed, DAEMON_OPTIONS)
    assert any("daemon" in line for line in result.trace)


@pytest.mark.postgresql
@pytest.mark.parametrize("seed", PG_SEEDS)
def test_schedule_on_two_server_processes_over_postgresql_converges_without_loss(
    seed: int, pg_results: dict[int, Result]
) -> None:
    result = pg_results[seed]
    assert not result.failures, result.report() + "\n" + _replay(seed, PG_OPTIONS)


def test_the_ci_schedules_exercise_every_kind_of_step(results: dict[int, Result]) -> None:
    kinds = {step.kind for r in results.values() for step in r.steps}
    assert {"sync", "kill", "write", "edit", "delete", "rename", "move", "fault", "twin"} <= kinds
    assert any(r.base_only for r in results.values())
    assert any(not r.base_only for r in results.values())
