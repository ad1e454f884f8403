"""Small builders for planner tests: nodes from a path and a content letter."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import replace

from syncd.planner.ops import Op, Plan, Policy
from syncd.planner.plan import plan
from syncd.planner.trees import BaseNode, Kind, LocalNode, RemoteNode
from tests.unit.planner.apply import World

F, D = Kind.FILE, Kind.DIR


def ino(path: str) -> int:
    return zlib.crc32(path.encode())


def digest(content: str) -> str:
    return "sha256:" + content


def bfile(path: str, content: str = "x", *, inode: int | None = None) -> BaseNode:
    return BaseNode(path, F, len(content), digest(content), 1, inode or ino(path), 1, "t1")


def bdir(path: str, *, inode: int | None = None) -> BaseNode:
    return BaseNode(path, D, local_inode=inode or ino(path), remote_revision=1)


def lfile(
    path: str, content: str = "x", *, changed: bool = False, inode: int | None = None
) -> LocalNode:
    """A local file; unchanged means the stat facts of ``bfile(path)``."""
    return LocalNode(
        path, F, len(content), 2 if changed else 1, inode or ino(path), digest(content)
    )


def ldir(path: str, *, inode: int | None = None) -> LocalNode:
    return LocalNode(path, D, inode=inode or ino(path))


def twin(path: str, disk_name: str, content: str | None = "t") -> LocalNode:
    """A second spelling on disk of ``path`` (a folder when ``content`` is None), as the
    scanner reports it: its own inode and disk name (the hash only for the loss checks)."""
    if content is None:
        return LocalNode(path, D, inode=ino(disk_name), disk_name=disk_name)
    return LocalNode(path, F, len(content), 1, ino(disk_name), digest(content), disk_name)


def rfile(path: str, content: str = "x", *, rev: int = 1) -> RemoteNode:
    return RemoteNode(path, F, len(content), f"t{rev}", rev, digest(content))


def rdir(path: str, *, rev: int = 1) -> RemoteNode:
    return RemoteNode(path, D, revision=rev)


def tree(*nodes):
    return {n.path: n for n in nodes}


def summary(ops: Iterable[Op]) -> list[tuple[str, str, str]]:
    """(op class, path, reason) for each op: what a trace is compared by."""
    return [(type(op).__name__, op.path, op.reason.value) for op in ops]


def files(world_side: dict) -> dict[str, str | None]:
    return {p: (None if n.kind is D else n.hash) for p, n in world_side.items()}


def run(local, remote, base, policy: Policy | None = None) -> tuple[Plan, World]:
    """Plan, apply to an in-memory world, and check it converged without loss."""
    policy = policy or Policy()
    result = plan(local, remote, base, policy)
    world = World(dict(local), dict(remote), dict(base), folds_case=policy.folds_case)
    if result.need is None:
        world.apply(result)
        assert files(world.local) == files(world.remote), "sides differ after the plan"
        before = {n.hash for n in [*local.values(), *remote.values()] if n.kind is F}
        kept = {n.hash for n in world.local.values() if n.kind is F}
        known = {n.hash for n in base.values() if n.kind is F}
        assert before - known <= kept, "a version not in the base was lost"
        again = plan(
            world.local,
            world.remote,
            world.base,
            Policy(
                **{
                    **{k: getattr(policy, k) for k in policy.__dataclass_fields__},
                    "is_merge": False,
                }
            ),
        )
        assert summary(again.ops) == [], f"re-plan not empty: {summary(again.ops)}"
    return result, world


def run_rounds(
    local,
    remote,
    base,
    twins: Iterable[LocalNode],
    policy: Policy | None = None,
    below_twins: dict[str, list[LocalNode]] | None = None,
) -> tuple[list[Plan], World]:
    """As ``run``, with second spellings on disk: plan, apply, scan again (the model's
    trees), until a plan is empty, as the reconciler's rounds do; then check no loss.
    ``below_twins``: what each twin folder holds, by its disk name (keyed as below the key)."""
    policy = policy or Policy()
    twins = list(twins)
    below_twins = below_twins or {}
    world = World(dict(local), dict(remote), dict(base), folds_case=policy.folds_case)
    world.twins = list(twins)
    world.below_twins = {k: list(v) for k, v in below_twins.items()}
    plans: list[Plan] = []
    for _ in range(4):
        result = plan(
            world.local, world.remote, world.base, replace(policy, local_twins=tuple(world.twins))
        )
        assert result.need is None
        if not result.ops:
            break
        plans.append(result)
        world.apply(result)
    else:
        raise AssertionError(f"not quiet after 4 rounds: {summary(result.ops)}")
    assert world.twins == [], "a second spelling was left behind"
    assert files(world.local) == files(world.remote), "sides differ after the rounds"
    hidden = [n for nodes in below_twins.values() for n in nodes]
    before = {n.hash for n in [*local.values(), *remote.values(), *twins, *hidden] if n.kind is F}
    kept = {n.hash for n in world.local.values() if n.kind is F}
    known = {n.hash for n in base.values() if n.kind is F}
    assert before - known <= kept, "a version not in the base was lost"
    return plans, world
