"""Order and phases: what the worker may run together, and what must come first."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from syncd.paths import is_within
from syncd.planner.ops import (
    DeleteRemote,
    ForgetBase,
    MoveLocal,
    MoveRemote,
    Plan,
    Policy,
    Reason,
    RecordBase,
    TrashLocal,
)
from syncd.planner.plan import plan
from tests.unit.planner.build import bdir, bfile, ino, ldir, lfile, rdir, rfile, tree
from tests.unit.planner.gen import worlds

DELETES = (TrashLocal, DeleteRemote, ForgetBase)


def _kinds(plan_: Plan) -> list[list[str]]:
    return [[type(op).__name__ for op in phase] for phase in plan_.phases]


def test_phases_cover_the_ops_in_order():
    local = tree(ldir("n"), ldir("n/m"), lfile("n/m/f"), lfile("e", inode=ino("d")))
    remote = tree(rfile("d"), rfile("gone"))
    base = tree(bfile("d"), bfile("gone"))
    result = plan(local, remote, base, Policy())
    assert tuple(op for phase in result.phases for op in phase) == result.ops
    assert _kinds(result) == [
        ["MoveRemote"],
        ["MkdirRemote"],
        ["MkdirRemote"],
        ["Upload"],
        ["DeleteRemote"],
    ]


def test_mkdirs_of_one_depth_share_a_phase():
    result = plan(tree(ldir("a"), ldir("b"), ldir("a/c")), {}, {}, Policy())
    assert _kinds(result) == [["MkdirRemote", "MkdirRemote"], ["MkdirRemote"]]


def test_moved_directory_comes_before_a_new_directory_inside_it():
    local = tree(ldir("e", inode=ino("d")), ldir("e/new"))
    remote = tree(rdir("d"))
    base = tree(bdir("d"))
    result = plan(local, remote, base, Policy())
    assert [type(op).__name__ for op in result.ops] == ["MoveRemote", "MkdirRemote"]


def _check_type_change_delete(result: Plan, i: int) -> None:
    """A type change's delete of ``path`` runs after every move out of ``path`` and before
    anything is created at or below it."""
    path = result.ops[i].path
    for j, op in enumerate(result.ops):
        creates = op.dest if isinstance(op, (MoveLocal, MoveRemote)) else op.path
        if isinstance(op, (MoveLocal, MoveRemote)) and is_within(op.path, path):
            assert j < i, f"{op} moves out of {path!r} after its delete"
        elif j != i and not isinstance(op, DELETES) and is_within(creates, path):
            assert j > i, f"{op} creates at or below {path!r} before its delete"


def test_type_change_deletes_come_before_what_replaces_them():
    local = tree(lfile("f", "new"), ldir("d"), lfile("d/in"), lfile("q"))
    remote = tree(rdir("f"), rfile("f/a"), rfile("d"), rfile("q"))
    base = tree(bdir("f"), bfile("f/a"), bfile("d"), bfile("q"))
    result = plan(local, remote, base, Policy())
    assert _kinds(result) == [
        ["DeleteRemote"],  # the file d, before the folder d is made
        ["MkdirRemote"],
        ["DeleteRemote"],  # the folder f, before the file f is sent
        ["Upload", "Upload"],
    ]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_ordering_promises_hold_for_generated_trees(world):
    local, remote, base, folds = world
    result = plan(local, remote, base, Policy(folds_case=folds, allow_mass_delete=True))
    seen_delete = False
    for i, op in enumerate(result.ops):
        if isinstance(op, DELETES) and op.reason is Reason.TYPE_CHANGED:
            _check_type_change_delete(result, i)
        elif isinstance(op, DELETES):
            seen_delete = True
        else:
            assert not seen_delete, "a delete before a move, mkdir or transfer"
    for phase in result.phases:
        touching = [op for op in phase if not isinstance(op, (RecordBase, ForgetBase))]
        for i, a in enumerate(touching):
            for b in touching[i + 1 :]:
                assert a.path != b.path, "two ops on one path in one phase"
                if isinstance(a, DELETES) and isinstance(b, DELETES) and type(a) is type(b):
                    assert not is_within(a.path, b.path) and not is_within(b.path, a.path)
    for phase in result.phases:
        if any(isinstance(op, (MoveLocal, MoveRemote)) for op in phase):
            assert len(phase) == 1
