"""Directories, file <-> directory changes, and subtrees that could not be read."""

from __future__ import annotations

import pytest

from syncd.planner.ops import Policy
from syncd.planner.plan import plan
from tests.unit.planner.build import (
    bdir,
    bfile,
    ldir,
    lfile,
    rdir,
    rfile,
    run,
    summary,
    tree,
)

K = ("k", "k")  # a steady file so that an emptied folder is not the story of a row
steady = (tree(lfile("k")), tree(rfile("k")), tree(bfile("k")))


def _with_steady(local, remote, base):
    return {**steady[0], **local}, {**steady[1], **remote}, {**steady[2], **base}


ROWS = [
    ("empty-local-dir-new", tree(ldir("d")), {}, {}, [("MkdirRemote", "d", "LOCAL_NEW")]),
    ("empty-remote-dir-new", {}, tree(rdir("d")), {}, [("MkdirLocal", "d", "REMOTE_NEW")]),
    ("both-new-dirs", tree(ldir("d")), tree(rdir("d")), {}, [("RecordBase", "d", "BOTH_EQUAL")]),
    ("dir-unchanged", tree(ldir("d")), tree(rdir("d")), tree(bdir("d")), []),
    ("both-deleted-dir", {}, {}, tree(bdir("d")), [("ForgetBase", "d", "BOTH_DELETED")]),
    (
        "local-deleted-dir-is-one-delete",
        {},
        tree(rdir("d"), rfile("d/x"), rdir("d/e"), rfile("d/e/y")),
        tree(bdir("d"), bfile("d/x"), bdir("d/e"), bfile("d/e/y")),
        [("DeleteRemote", "d", "LOCAL_DELETED")],
    ),
    (
        "remote-deleted-dir-is-one-trash",
        tree(ldir("d"), lfile("d/x"), ldir("d/e"), lfile("d/e/y")),
        {},
        tree(bdir("d"), bfile("d/x"), bdir("d/e"), bfile("d/e/y")),
        [("TrashLocal", "d", "REMOTE_DELETED")],
    ),
    (
        "local-deleted-dir-keeps-remote-new-child",
        {},
        tree(rdir("d"), rfile("d/x"), rfile("d/new", "n")),
        tree(bdir("d"), bfile("d/x")),
        [
            ("MkdirLocal", "d", "EDIT_BEATS_DELETE"),
            ("Download", "d/new", "REMOTE_NEW"),
            ("DeleteRemote", "d/x", "LOCAL_DELETED"),
        ],
    ),
    (
        "local-deleted-dir-keeps-remote-edited-child",
        {},
        tree(rdir("d"), rfile("d/x", "y", rev=2), rfile("d/z")),
        tree(bdir("d"), bfile("d/x"), bfile("d/z")),
        [
            ("MkdirLocal", "d", "EDIT_BEATS_DELETE"),
            ("Download", "d/x", "EDIT_BEATS_DELETE"),
            ("DeleteRemote", "d/z", "LOCAL_DELETED"),
        ],
    ),
    (
        "remote-deleted-dir-keeps-local-new-child-and-known-subdir-goes-whole",
        tree(ldir("d"), lfile("d/x"), lfile("d/new", "n"), ldir("d/e"), lfile("d/e/y")),
        {},
        tree(bdir("d"), bfile("d/x"), bdir("d/e"), bfile("d/e/y")),
        [
            ("MkdirRemote", "d", "EDIT_BEATS_DELETE"),
            ("Upload", "d/new", "LOCAL_NEW"),
            ("TrashLocal", "d/e", "REMOTE_DELETED"),
            ("TrashLocal", "d/x", "REMOTE_DELETED"),
        ],
    ),
    (
        "new-nested-dirs-parents-first",
        tree(ldir("d"), ldir("d/e"), lfile("d/e/f")),
        {},
        {},
        [
            ("MkdirRemote", "d", "LOCAL_NEW"),
            ("MkdirRemote", "d/e", "LOCAL_NEW"),
            ("Upload", "d/e/f", "LOCAL_NEW"),
        ],
    ),
    (
        "local-file-became-dir",
        tree(ldir("p", inode=77), lfile("p/in", "i")),
        tree(rfile("p")),
        tree(bfile("p")),
        [
            ("DeleteRemote", "p", "TYPE_CHANGED"),
            ("MkdirRemote", "p", "TYPE_CHANGED"),
            ("Upload", "p/in", "TYPE_CHANGED"),
        ],
    ),
    (
        "remote-file-became-dir",
        tree(lfile("p")),
        tree(rdir("p", rev=3), rfile("p/in", "i", rev=3)),
        tree(bfile("p")),
        [
            ("TrashLocal", "p", "TYPE_CHANGED"),
            ("MkdirLocal", "p", "TYPE_CHANGED"),
            ("Download", "p/in", "TYPE_CHANGED"),
        ],
    ),
    (
        "new-file-and-new-dir-at-one-path",
        tree(lfile("p", "mine")),
        tree(rdir("p")),
        {},
        [
            ("MoveLocal", "p", "TYPE_CHANGED"),
            ("MkdirLocal", "p", "REMOTE_NEW"),
            ("Upload", "p (conflicted copy 1970-01-01 000000 host)", "TYPE_CHANGED"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("local", "remote", "base", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_directory_row(local, remote, base, expected):
    result, _ = run(*_with_steady(local, remote, base))
    assert summary(result.ops) == expected


def test_unreadable_local_subtree_is_never_deleted():
    # The scanner could not read d/u: it is missing from the local tree, not deleted.
    local, remote, base = _with_steady(
        tree(ldir("d")),
        tree(rdir("d"), rdir("d/u"), rfile("d/u/f")),
        tree(bdir("d"), bdir("d/u"), bfile("d/u/f")),
    )
    result = plan(local, remote, base, Policy(local_unknown=frozenset({"d/u"})))
    assert summary(result.ops) == []


def test_remote_deleted_dir_holding_unknown_local_entries_is_kept():
    local, remote, base = _with_steady(
        tree(ldir("d"), lfile("d/x")),
        {},
        tree(bdir("d"), bfile("d/x")),
    )
    result = plan(local, remote, base, Policy(local_unknown=frozenset({"d/ignored.tmp"})))
    assert summary(result.ops) == [
        ("MkdirRemote", "d", "EDIT_BEATS_DELETE"),
        ("TrashLocal", "d/x", "REMOTE_DELETED"),
    ]


def test_local_deleted_dir_holding_unknown_remote_entries_is_not_deleted_whole():
    local, remote, base = _with_steady(
        {},
        tree(rdir("d"), rfile("d/x"), rfile("d/.hidden")),
        tree(bdir("d"), bfile("d/x")),
    )
    result = plan(local, remote, base, Policy(remote_unknown=frozenset({"d/.hidden"})))
    assert ("DeleteRemote", "d", "LOCAL_DELETED") not in summary(result.ops)
    assert ("DeleteRemote", "d/x", "LOCAL_DELETED") in summary(result.ops)
