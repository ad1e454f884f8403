"""Run one schedule end to end, check it, and shrink a failing one to a minimal step list.

1. ``run_schedule`` builds a fresh world in its own temporary folder, applies the steps,
   clears every fault, syncs all clients until a whole round changes nothing (bounded),
   then checks the invariants. The folder is removed unless ``keep`` is set.
2. The same seed gives the same steps and the same faults (the proxy draws from the seed);
   only the moment a SIGKILL lands depends on timing.
3. ``shrink`` drops chunks of steps, then single steps, while the schedule still fails
   with a failure of the same kind, within a budget of runs.
"""

from __future__ import annotations

import shutil
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from syncd.soak.apply import apply
from syncd.soak.checks import DIVERGED, ERROR, Failure, check_world
from syncd.soak.steps import Step, generate
from syncd.soak.trees import local_tree, remote_tree, snapshot_outside
from syncd.soak.world import World

QUIET_ROUNDS = 5
DAEMON_QUIET_SECONDS = 30.0
SENTINEL = "outside"


@dataclass
class Options:
    clients: int = 3
    steps: int = 8
    faults: bool = True
    base_only_every: int = 4  # every 4th seed runs against a base-only server
    daemons: int = 0  # how many clients (the first ones) run ``syncd run`` throughout
    keep: bool = False
    processes: int = 1  # server processes on one database, behind the proxy in turn
    database_url: str | None = None  # a PostgreSQL cluster: a fresh database per schedule


@dataclass
class Result:
    seed: int
    steps: list[Step]
    base_only: bool
    failures: list[Failure] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    minimal: list[Step] | None = None

    @property
    def kinds(self) -> set[str]:
        return {f.kind for f in self.failures}

    def report(self) -> str:
        """The seed, what broke, and the (minimal) steps that break it."""
        mode = "base-only" if self.base_only else "full"
        lines = [f"seed {self.seed} ({mode}): " + ", ".join(sorted(self.kinds))]
        lines += [f"  {f.kind}: {f.detail}" for f in self.failures[:8]]
        shown = self.minimal if self.minimal is not None else self.steps
        lines.append(f"  steps ({'minimal' if self.minimal is not None else 'all'}):")
        lines += [f"    {s.describe()}" for s in shown]
        lines.append("  trace:")
        lines += [f"    {t}" for t in self.trace]
        return "\n".join(lines)


def is_base_only(seed: int, options: Options) -> bool:
    return (
        options.base_only_every > 0
        and seed % options.base_only_every == options.base_only_every - 1
    )


def steps_for(seed: int, options: Options) -> list[Step]:
    return generate(seed, options.steps, options.clients, faults=options.faults)


def run_schedule(seed: int, steps: Sequence[Step], options: Options) -> Result:
    """Run ``steps`` in a fresh world and return what the checks found."""
    base_only = is_base_only(seed, options)
    result = Result(seed, list(steps), base_only)
    root = Path(tempfile.mkdtemp(prefix=f"syncd-soak-{seed}-"))
    (root / SENTINEL).mkdir()
    (root / SENTINEL / "keep.txt").write_text("must not change")
    (root / SENTINEL / "x").write_text("a hostile ../x would land here")
    world = World(root, base_only, options.processes, options.database_url)
    try:
        world.start(options.clients, seed, daemons=options.daemons)
        inside = {c.folder.name for c in world.clients} | {c.state_dir.name for c in world.clients}
        inside |= {"server", "backups", world.quarantine.name}
        before = snapshot_outside(root, inside)
        for step in steps:
            result.trace.append(apply(world, seed, step))
        assert world.proxy is not None and world.server is not None
        world.proxy.clear()
        if not settle(world, result):
            result.failures.append(Failure(DIVERGED, f"not quiet after {QUIET_ROUNDS} rounds"))
        world.stop_daemons()
        remote = remote_tree(world.server.url, world.api_key, world.workspace)
        after = snapshot_outside(root, inside)
        changed = sorted(set(before.items()) ^ set(after.items()))
        result.failures += check_world(world, remote, [k for k, _ in changed])
    except Exception:
        result.failures.append(Failure(ERROR, "harness: " + traceback.format_exc(limit=4)))
    finally:
        world.stop()
        if not options.keep:
            shutil.rmtree(root, ignore_errors=True)
    return result


def settle(world: World, result: Result) -> bool:
    """Sync the clients in turn until each has had a sync that changed nothing at all.

    A sync counts as still when it exits 0 and neither the server nor any folder changed
    across it; ``len(clients)`` still syncs in a row mean the world is quiet. A daemon
    client's turn is a wait until it is idle with the server's tree, instead of a sync.
    """
    assert world.server is not None
    world.disturbed = False
    count = len(world.clients)
    state = _state(world)
    streak = 0
    for turn in range(QUIET_ROUNDS * count):
        index = turn % count
        if world.is_daemon(index):
            done = world.await_quiet(index, DAEMON_QUIET_SECONDS) is not None
        else:
            done = world.sync(index, final=True).code == 0
        after = _state(world)
        streak = streak + 1 if done and after == state else 0
        if not done or after != state:
            result.trace.append(f"settle: c{index} {'moved' if done else 'not done'}")
        state = after
        if streak >= count:
            result.trace.append(f"settled after {turn + 1} syncs")
            return True
    result.trace.append(f"not settled after {QUIET_ROUNDS * count} syncs")
    return False


def _state(world: World) -> tuple[dict[str, str], list[dict[str, str]]]:
    assert world.server is not None
    remote = remote_tree(world.server.url, world.api_key, world.workspace)
    return remote, [local_tree(c.folder) for c in world.clients]


def shrink(result: Result, options: Options, budget: int = 16) -> Result:
    """A shorter step list that still fails the same way (greedy delta debugging)."""
    wanted = result.kinds - {ERROR} or result.kinds
    best = result
    chunk = max(1, len(best.steps) // 2)
    runs = 0
    while chunk >= 1 and runs < budget:
        start, shrunk = 0, False
        while start < len(best.steps) and runs < budget:
            candidate = best.steps[:start] + best.steps[start + chunk :]
            runs += 1
            attempt = run_schedule(best.seed, candidate, options)
            if attempt.kinds & wanted:
                best, shrunk = attempt, True
            else:
                start += chunk
        if not shrunk:
            chunk //= 2
    result.minimal = best.steps
    if best is not result:
        result.trace = best.trace
        result.failures = best.failures
    return result
