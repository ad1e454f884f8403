"""Run many schedules in parallel and sum them up: the soak command and the CI test share it.

1. Schedules are independent (own server, own folders), so ``jobs`` of them run at once on
   threads; each sync is a subprocess, so threads are enough.
2. Results come back in seed order, whatever order they finished in.
3. The summary line is the figure the README quotes: ``N schedules, L lost, D diverged,
   E errors`` (each counts schedules with at least one failure of that kind).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

from syncd.soak.checks import DIVERGED, ERROR, LOST
from syncd.soak.schedule import Options, Result, run_schedule, shrink, steps_for


def run_one(seed: int, options: Options, shrink_budget: int = 0) -> Result:
    result = run_schedule(seed, steps_for(seed, options), options)
    if result.failures and shrink_budget > 0:
        result = shrink(result, options, budget=shrink_budget)
    return result


def run_many(
    seeds: Iterable[int],
    options: Options,
    *,
    jobs: int = 2,
    shrink_budget: int = 0,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Every seed's result, in seed order; ``on_result`` sees each as soon as it is done."""
    seeds = list(seeds)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_one, seed, options, shrink_budget) for seed in seeds]
        results = []
        for future in futures:
            result = future.result()
            if on_result is not None:
                on_result(result)
            results.append(result)
    return results


def summary_line(results: list[Result]) -> str:
    def count(kind: str) -> int:
        return sum(kind in r.kinds for r in results)

    return (
        f"{len(results)} schedules, {count(LOST)} lost, {count(DIVERGED)} diverged, "
        f"{count(ERROR)} errors"
    )
