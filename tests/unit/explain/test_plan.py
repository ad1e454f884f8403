"""plan.py: which planned ops concern a path, and when the whole folder must be planned."""

from __future__ import annotations

import pytest

from syncd.explain.plan import needs_whole_folder, path_ops, touches
from syncd.planner import ops

R = ops.Reason


@pytest.mark.parametrize(
    ("op", "path", "expected"),
    [
        (ops.Upload("a.txt", R.LOCAL_CHANGED), "a.txt", True),
        (ops.Upload("ab.txt", R.LOCAL_CHANGED), "a", False),  # a prefix is no folder
        (ops.TrashLocal("photos", R.EXCLUDED), "photos/cat.jpg", True),  # a folder above
        (ops.Download("d/x", R.REMOTE_NEW), "d", True),  # something below
        (ops.MoveRemote("old", R.LOCAL_MOVED, dest="new"), "new", True),
        (ops.KeepBoth("a", R.BOTH_CHANGED, conflict_path="a (copy)"), "a (copy)", True),
        (ops.MoveLocal("x", R.REMOTE_MOVED, dest="y"), "z", False),
    ],
)
def test_an_op_touches_its_ends_folders_above_and_paths_below(op, path, expected):
    assert touches(op, path) is expected


def test_path_ops_keeps_the_order_of_the_plan():
    plan = [
        ops.MkdirRemote("d", R.LOCAL_NEW),
        ops.Upload("other", R.LOCAL_NEW),
        ops.Upload("d/f", R.LOCAL_NEW),
    ]
    assert path_ops(plan, "d/f") == [plan[0], plan[2]]


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ([ops.Upload("a", R.LOCAL_NEW)], True),  # may be a move's new name
        ([ops.DeleteRemote("a", R.LOCAL_DELETED)], True),  # may be a move's old name
        ([ops.TrashLocal("a", R.REMOTE_DELETED)], True),
        ([ops.Download("a", R.REMOTE_NEW)], True),
        ([ops.Upload("a", R.LOCAL_CHANGED)], False),
        ([ops.TrashLocal("a", R.EXCLUDED)], False),
        ([ops.KeepBoth("a", R.BOTH_CHANGED)], False),
        ([], False),
    ],
)
def test_creates_and_deletes_ask_for_the_whole_folder(found, expected):
    assert needs_whole_folder(found) is expected
