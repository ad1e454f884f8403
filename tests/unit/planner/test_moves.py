"""Moves: one op per rename on either side, directories included; safe fallbacks."""

from __future__ import annotations

import pytest

from syncd.planner.ops import MoveLocal, MoveRemote, Policy
from syncd.planner.plan import plan
from syncd.planner.trees import LocalNode
from tests.unit.planner.build import (
    F,
    bdir,
    bfile,
    ino,
    ldir,
    lfile,
    rdir,
    rfile,
    run,
    summary,
    tree,
)

steady = (tree(lfile("k")), tree(rfile("k")), tree(bfile("k")))


def _run(local, remote, base, policy=None):
    return run({**steady[0], **local}, {**steady[1], **remote}, {**steady[2], **base}, policy)


ROWS = [
    (
        "local-file-rename-by-inode",
        tree(lfile("new", inode=ino("old"))),
        tree(rfile("old")),
        tree(bfile("old")),
        [("MoveRemote", "old", "LOCAL_MOVED")],
    ),
    (
        "local-file-rename-by-hash-without-inode",
        tree(LocalNode("new", F, 1, 5, 999, "sha256:x")),
        tree(rfile("old")),
        tree(bfile("old")),
        # the base learns the new inode; nothing is transferred
        [("MoveRemote", "old", "LOCAL_MOVED"), ("RecordBase", "new", "UNCHANGED")],
    ),
    (
        # An inode alone proves no move (file systems reuse a freed inode at once): an
        # entry of another size or mtime is a delete plus a create, the same transfer.
        "local-rename-and-edit",
        tree(lfile("new", "y", changed=True, inode=ino("old"))),
        tree(rfile("old")),
        tree(bfile("old")),
        [("Upload", "new", "LOCAL_NEW"), ("DeleteRemote", "old", "LOCAL_DELETED")],
    ),
    (
        "local-dir-rename-is-one-move",
        tree(
            ldir("e", inode=ino("d")),
            lfile("e/x", inode=ino("d/x")),
            lfile("e/y", inode=ino("d/y")),
        ),
        tree(rdir("d"), rfile("d/x"), rfile("d/y")),
        tree(bdir("d"), bfile("d/x"), bfile("d/y")),
        [("MoveRemote", "d", "LOCAL_MOVED")],
    ),
    (
        "local-dir-rename-while-remote-edits-inside",
        tree(ldir("e", inode=ino("d")), lfile("e/x", inode=ino("d/x"))),
        tree(rdir("d"), rfile("d/x", "y", rev=5)),
        tree(bdir("d"), bfile("d/x")),
        [("MoveRemote", "d", "LOCAL_MOVED"), ("Download", "e/x", "REMOTE_CHANGED")],
    ),
    (
        "local-move-into-new-dir-makes-the-dir-first",
        tree(ldir("n"), lfile("n/x", inode=ino("x"))),
        tree(rfile("x")),
        tree(bfile("x")),
        [("MkdirRemote", "n", "LOCAL_NEW"), ("MoveRemote", "x", "LOCAL_MOVED")],
    ),
    (
        "remote-file-rename-by-hash",
        tree(lfile("old")),
        tree(rfile("new", rev=4)),
        tree(bfile("old")),
        # the base learns the revision the server gave the moved entry
        [("MoveLocal", "old", "REMOTE_MOVED"), ("RecordBase", "new", "REMOTE_ECHO")],
    ),
    (
        "remote-dir-rename-is-one-move",
        tree(ldir("d"), lfile("d/x"), lfile("d/y", "y")),
        tree(rdir("e", rev=4), rfile("e/x", rev=4), rfile("e/y", "y", rev=4)),
        tree(bdir("d"), bfile("d/x"), bfile("d/y", "y")),
        [
            ("MoveLocal", "d", "REMOTE_MOVED"),
            ("RecordBase", "e", "REMOTE_ECHO"),  # the folder's new revision, too
            ("RecordBase", "e/x", "REMOTE_ECHO"),
            ("RecordBase", "e/y", "REMOTE_ECHO"),
        ],
    ),
    (
        "local-dest-taken-on-remote-falls-back",
        tree(lfile("new", inode=ino("old"))),
        tree(rfile("old"), rfile("new", "theirs")),
        tree(bfile("old")),
        [("KeepBoth", "new", "BOTH_CHANGED"), ("DeleteRemote", "old", "LOCAL_DELETED")],
    ),
    (
        "local-move-of-remotely-edited-file-falls-back",
        tree(lfile("new", inode=ino("old"))),
        tree(rfile("old", "y", rev=2)),
        tree(bfile("old")),
        [("Upload", "new", "LOCAL_NEW"), ("Download", "old", "EDIT_BEATS_DELETE")],
    ),
    (
        "remote-move-of-locally-edited-file-falls-back",
        tree(lfile("old", "y", changed=True)),
        tree(rfile("new", rev=4)),
        tree(bfile("old")),
        [("Download", "new", "REMOTE_NEW"), ("Upload", "old", "EDIT_BEATS_DELETE")],
    ),
    (
        "local-case-only-rename",
        tree(lfile("Readme", inode=ino("readme"))),
        tree(rfile("readme")),
        tree(bfile("readme")),
        [("MoveRemote", "readme", "LOCAL_MOVED")],
    ),
]


@pytest.mark.parametrize(
    ("local", "remote", "base", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_move_row(local, remote, base, expected):
    result, _ = _run(local, remote, base)
    assert summary(result.ops) == expected


def test_move_ops_carry_what_they_saw():
    result, _ = _run(tree(lfile("new", inode=ino("old"))), tree(rfile("old")), tree(bfile("old")))
    (op,) = [o for o in result.ops if isinstance(o, MoveRemote)]
    assert (op.path, op.dest, op.remote) == ("old", "new", rfile("old"))


def test_remote_case_only_rename_on_a_case_folding_disk_is_one_local_move():
    result, world = _run(
        tree(ldir("docs"), lfile("docs/a")),
        tree(rdir("Docs", rev=4), rfile("Docs/a", rev=4)),
        tree(bdir("docs"), bfile("docs/a")),
        Policy(folds_case=True),
    )
    assert summary(result.ops) == [
        ("MoveLocal", "docs", "REMOTE_MOVED"),
        ("RecordBase", "Docs", "REMOTE_ECHO"),
        ("RecordBase", "Docs/a", "REMOTE_ECHO"),
    ]
    (op,) = [o for o in result.ops if isinstance(o, MoveLocal)]
    assert op.dest == "Docs" and "Docs/a" in world.local


def test_nested_moves_name_their_source_as_it_will_be():
    # d -> e on disk, and d/x moved out to top-level y.
    local = tree(
        ldir("e", inode=ino("d")), lfile("y", inode=ino("d/x")), lfile("e/z", inode=ino("d/z"))
    )
    remote = tree(rdir("d"), rfile("d/x"), rfile("d/z"))
    base = tree(bdir("d"), bfile("d/x"), bfile("d/z"))
    result, _ = _run(local, remote, base)
    moves = [(o.path, o.dest) for o in result.ops if isinstance(o, MoveRemote)]
    assert sorted(moves) == [("d", "e"), ("e/x", "y")] or sorted(moves) == [
        ("d", "e"),
        ("d/x", "y"),
    ]
    assert [type(o).__name__ for o in result.ops] == ["MoveRemote", "MoveRemote"]


def test_ambiguous_hash_pairs_fall_back_without_loss():
    local = tree(lfile("p"), lfile("q"))
    remote = tree(rfile("n1", rev=4), rfile("n2", rev=5))
    base = tree(bfile("p"), bfile("q"))
    result, _ = _run(local, remote, base)
    assert not [o for o in result.ops if isinstance(o, MoveLocal)]


def test_plan_builds_on_moves_without_reading_anything():
    result = plan(
        tree(lfile("new", inode=ino("old"))), tree(rfile("old")), tree(bfile("old")), Policy()
    )
    assert result.need is None
