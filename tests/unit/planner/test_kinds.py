"""Type changes (kinds.py): a one-sided change is followed; anything more keeps both."""

from __future__ import annotations

from dataclasses import replace

import pytest

from syncd.planner.ops import DeleteRemote, Policy, TrashLocal
from syncd.planner.plan import plan
from tests.unit.planner.apply import World
from tests.unit.planner.build import (
    bdir,
    bfile,
    files,
    ino,
    ldir,
    lfile,
    rdir,
    rfile,
    run,
    summary,
    tree,
)
from tests.unit.planner.test_dirs import _with_steady

CC = "p (conflicted copy 1970-01-01 000000 host)"
folder = (  # p is a folder holding a file and a subfolder, agreed by both sides
    tree(ldir("p"), lfile("p/a", "a"), ldir("p/s"), lfile("p/s/b")),
    tree(rdir("p"), rfile("p/a", "a"), rdir("p/s"), rfile("p/s/b")),
    tree(bdir("p"), bfile("p/a", "a"), bdir("p/s"), bfile("p/s/b")),
)
as_file = (tree(lfile("p")), tree(rfile("p")), tree(bfile("p")))
new_file_l = tree(lfile("p", "new", inode=99))
new_file_r = tree(rfile("p", "new", rev=5))
new_dir_l = tree(ldir("p", inode=77), lfile("p/in", "i"))
new_dir_r = tree(rdir("p", rev=5), rfile("p/in", "i", rev=5))

ROWS = [
    # id, local, remote, base, expected (op, path, reason)
    (
        "local-folder-became-file",
        new_file_l,
        folder[1],
        folder[2],
        [("DeleteRemote", "p", "TYPE_CHANGED"), ("Upload", "p", "TYPE_CHANGED")],
    ),
    (
        "local-file-became-folder",
        new_dir_l,
        as_file[1],
        as_file[2],
        [
            ("DeleteRemote", "p", "TYPE_CHANGED"),
            ("MkdirRemote", "p", "TYPE_CHANGED"),
            ("Upload", "p/in", "TYPE_CHANGED"),
        ],
    ),
    (
        "remote-folder-became-file",
        folder[0],
        new_file_r,
        folder[2],
        [("TrashLocal", "p", "TYPE_CHANGED"), ("Download", "p", "TYPE_CHANGED")],
    ),
    (
        "remote-file-became-folder",
        as_file[0],
        new_dir_r,
        as_file[2],
        [
            ("TrashLocal", "p", "TYPE_CHANGED"),
            ("MkdirLocal", "p", "TYPE_CHANGED"),
            ("Download", "p/in", "TYPE_CHANGED"),
        ],
    ),
    (
        # A delete on the other side agrees with the type change: still followed.
        "local-folder-became-file-remote-deleted-a-child",
        new_file_l,
        {p: n for p, n in folder[1].items() if p != "p/a"},
        folder[2],
        [
            ("DeleteRemote", "p", "TYPE_CHANGED"),
            ("Upload", "p", "TYPE_CHANGED"),
            ("ForgetBase", "p/a", "BOTH_DELETED"),
        ],
    ),
    (
        # The same content at a new revision is no change.
        "remote-folder-became-file-local-child-touched",
        {**folder[0], "p/a": lfile("p/a", "a", changed=True)},
        new_file_r,
        folder[2],
        [("TrashLocal", "p", "TYPE_CHANGED"), ("Download", "p", "TYPE_CHANGED")],
    ),
    # The other side changed something there too: a conflict, both kept.
    (
        "local-file-replaced-folder-remote-added-inside",
        new_file_l,
        {**folder[1], "p/n": rfile("p/n", "n", rev=4)},
        folder[2],
        [
            ("MoveLocal", "p", "TYPE_CHANGED"),
            ("MkdirLocal", "p", "EDIT_BEATS_DELETE"),
            ("Upload", CC, "TYPE_CHANGED"),
            ("Download", "p/n", "REMOTE_NEW"),
            ("DeleteRemote", "p/a", "LOCAL_DELETED"),
            ("DeleteRemote", "p/s", "LOCAL_DELETED"),
        ],
    ),
    (
        "local-file-replaced-folder-remote-edited-inside",
        new_file_l,
        {**folder[1], "p/s/b": rfile("p/s/b", "edit", rev=4)},
        folder[2],
        [
            ("MoveLocal", "p", "TYPE_CHANGED"),
            ("MkdirLocal", "p", "EDIT_BEATS_DELETE"),
            ("MkdirLocal", "p/s", "EDIT_BEATS_DELETE"),
            ("Upload", CC, "TYPE_CHANGED"),
            ("Download", "p/s/b", "EDIT_BEATS_DELETE"),
            ("DeleteRemote", "p/a", "LOCAL_DELETED"),
        ],
    ),
    (
        "local-file-replaced-folder-remote-added-a-folder-inside",
        new_file_l,
        {**folder[1], "p/e": rdir("p/e", rev=4)},
        folder[2],
        [
            ("MoveLocal", "p", "TYPE_CHANGED"),
            ("MkdirLocal", "p", "EDIT_BEATS_DELETE"),
            ("MkdirLocal", "p/e", "REMOTE_NEW"),
            ("Upload", CC, "TYPE_CHANGED"),
            ("DeleteRemote", "p/a", "LOCAL_DELETED"),
            ("DeleteRemote", "p/s", "LOCAL_DELETED"),
        ],
    ),
    (
        "remote-file-replaced-folder-local-edited-inside",
        {**folder[0], "p/a": lfile("p/a", "edit", changed=True)},
        new_file_r,
        folder[2],
        [
            ("MoveRemote", "p", "TYPE_CHANGED"),
            ("MkdirRemote", "p", "EDIT_BEATS_DELETE"),
            ("Download", CC, "TYPE_CHANGED"),
            ("Upload", "p/a", "EDIT_BEATS_DELETE"),
            ("TrashLocal", "p/s", "REMOTE_DELETED"),
        ],
    ),
    (
        "remote-file-replaced-folder-local-added-inside",
        {**folder[0], "p/n": lfile("p/n", "n")},
        new_file_r,
        folder[2],
        [
            ("MoveRemote", "p", "TYPE_CHANGED"),
            ("MkdirRemote", "p", "EDIT_BEATS_DELETE"),
            ("Download", CC, "TYPE_CHANGED"),
            ("Upload", "p/n", "LOCAL_NEW"),
            ("TrashLocal", "p/a", "REMOTE_DELETED"),
            ("TrashLocal", "p/s", "REMOTE_DELETED"),
        ],
    ),
    (
        "local-folder-replaced-file-remote-edited-it",
        new_dir_l,
        tree(rfile("p", "edit", rev=4)),
        as_file[2],
        [
            ("MoveRemote", "p", "TYPE_CHANGED"),
            ("MkdirRemote", "p", "EDIT_BEATS_DELETE"),
            ("Download", CC, "TYPE_CHANGED"),
            ("Upload", "p/in", "LOCAL_NEW"),
        ],
    ),
    (
        "remote-folder-replaced-file-local-edited-it",
        tree(lfile("p", "edit", changed=True)),
        new_dir_r,
        as_file[2],
        [
            ("MoveLocal", "p", "TYPE_CHANGED"),
            ("MkdirLocal", "p", "EDIT_BEATS_DELETE"),
            ("Upload", CC, "TYPE_CHANGED"),
            ("Download", "p/in", "REMOTE_NEW"),
        ],
    ),
    (
        "both-new-file-and-folder",
        new_file_l,
        new_dir_r,
        {},
        [
            ("MoveLocal", "p", "TYPE_CHANGED"),
            ("MkdirLocal", "p", "REMOTE_NEW"),
            ("Upload", CC, "TYPE_CHANGED"),
            ("Download", "p/in", "REMOTE_NEW"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("local", "remote", "base", "expected"), [r[1:] for r in ROWS], ids=[r[0] for r in ROWS]
)
def test_type_change_row(local, remote, base, expected):
    result, _ = run(*_with_steady(local, remote, base))
    assert summary(result.ops) == expected
    assert not result.refusals


def test_followed_folder_goes_to_the_trash_whole_with_the_nodes_the_plan_saw():
    local, remote, base = _with_steady(folder[0], new_file_r, folder[2])
    result, world = run(local, remote, base)
    trash = result.ops[0]
    assert isinstance(trash, TrashLocal) and trash.local == ldir("p")
    assert sorted(n.path for n in world.trash) == ["p", "p/a", "p/s", "p/s/b"]


def test_followed_remote_delete_is_conditional_on_what_the_plan_saw():
    local, remote, base = _with_steady(new_dir_l, as_file[1], as_file[2])
    delete = plan(local, remote, base, Policy()).ops[0]
    assert isinstance(delete, DeleteRemote) and delete.remote == rfile("p")


def test_unknown_entries_below_make_it_a_conflict_and_nothing_is_deleted():
    local, remote, base = _with_steady(new_file_l, folder[1], folder[2])
    result = plan(local, remote, base, Policy(remote_unknown=frozenset({"p/ignored.tmp"})))
    assert ("MoveLocal", "p", "TYPE_CHANGED") in summary(result.ops)
    assert ("DeleteRemote", "p", "TYPE_CHANGED") not in summary(result.ops)
    assert ("MkdirLocal", "p", "EDIT_BEATS_DELETE") in summary(result.ops)


def test_merge_keeps_both_and_deletes_nothing():
    local, remote, base = _with_steady(new_file_l, folder[1], folder[2])
    result, _ = run(local, remote, base, Policy(is_merge=True))
    assert ("MoveLocal", "p", "TYPE_CHANGED") in summary(result.ops)
    assert not [op for op in result.ops if isinstance(op, DeleteRemote | TrashLocal)]


def test_a_child_moved_out_first_then_the_folder_is_deleted_then_the_file_sent():
    local = {**new_file_l, "q": ldir("q"), "q/a": lfile("q/a", "a", inode=ino("p/a"))}
    remote = {**folder[1], "q": rdir("q")}
    base = {**folder[2], "q": bdir("q")}
    result, world = run(*_with_steady(local, remote, base))
    assert summary(result.ops) == [
        ("MoveRemote", "p/a", "LOCAL_MOVED"),
        ("DeleteRemote", "p", "TYPE_CHANGED"),
        ("Upload", "p", "TYPE_CHANGED"),
    ]
    assert files(world.remote)["q/a"] == lfile("q/a", "a").hash


def test_followed_folder_counts_its_files_for_the_mass_delete_guard():
    names = [f"p/f{i:03}" for i in range(30)]
    remote = {"p": rdir("p"), **{n: rfile(n) for n in names}}
    base = {"p": bdir("p"), **{n: bfile(n) for n in names}}
    result = plan(new_file_l, remote, base, Policy())
    (refusal,) = result.refusals
    assert refusal.kind == "mass_delete" and len(refusal.paths) == 30
    assert "on the server" in refusal.message


def test_base_only_server_follows_the_same_way():
    local, remote, base = _with_steady(new_file_l, folder[1], folder[2])
    world = World(dict(local), dict(remote), dict(base), bare=True)
    result = plan(*world.view(), Policy())
    assert result.need is None
    assert summary(result.ops) == [
        ("DeleteRemote", "p", "TYPE_CHANGED"),
        ("Upload", "p", "TYPE_CHANGED"),
    ]
    world.apply(result)
    assert files(world.local) == files(world.remote)
    assert plan(*world.view(), Policy()).ops == ()


@pytest.mark.parametrize(
    ("fetched", "first_op"),
    [("sha256:x", "DeleteRemote"), ("sha256:y", "MoveRemote")],
    ids=["ours-is-followed", "theirs-is-kept-both"],
)
def test_base_only_unconfirmed_upload_is_hashed_before_it_is_followed(fetched, first_op):
    # The file p is our upload, not yet confirmed; then the folder replaced it locally.
    bare = replace(rfile("p"), revision=None, hash=None)
    unconfirmed = replace(bfile("p"), remote_revision=None, remote_modified_time=None)
    local, remote, base = new_dir_l, tree(bare), tree(unconfirmed)
    asked = plan(local, remote, base, Policy())
    assert asked.need is not None and asked.need.remote_hashes == {"p"}
    told = Policy(remote_hashes={"p": fetched})
    result = plan(local, remote, base, told)
    assert result.need is None
    assert type(result.ops[0]).__name__ == first_op
    assert result.ops[0].path == "p"
