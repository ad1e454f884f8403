"""Selective sync in the planner: an excluded path is left alone on the server, its synced
local copy goes to the trash, and what was never synced here stays and is not uploaded."""

from __future__ import annotations

from syncd.planner.ops import Policy
from syncd.planner.plan import plan
from tests.unit.planner.build import bdir, bfile, ldir, lfile, rdir, rfile, summary, tree

EX = Policy(excluded=frozenset({"d"}))


def test_synced_folder_is_trashed_locally_and_nothing_touches_the_server() -> None:
    local = tree(ldir("d"), lfile("d/a"), lfile("k"))
    remote = tree(rdir("d"), rfile("d/a"), rfile("k"))
    base = tree(bdir("d"), bfile("d/a"), bfile("k"))
    assert summary(plan(local, remote, base, EX).ops) == [("TrashLocal", "d", "EXCLUDED")]


def test_excluded_remote_folder_is_not_downloaded() -> None:
    remote = tree(rdir("d"), rfile("d/a"), rfile("k"))
    got = summary(plan(tree(), remote, {}, EX).ops)
    assert got == [("Download", "k", "REMOTE_NEW")]


def test_local_file_under_excluded_path_is_not_uploaded_nor_trashed() -> None:
    local = tree(ldir("d"), lfile("d/new"))
    assert summary(plan(local, tree(), {}, EX).ops) == []


def test_base_rows_without_a_local_copy_are_forgotten_not_deleted_remotely() -> None:
    remote = tree(rdir("d"), rfile("d/a"))
    base = tree(bdir("d"), bfile("d/a"))
    got = summary(plan(tree(), remote, base, EX).ops)
    assert got == [("ForgetBase", "d", "EXCLUDED")]


def test_excluding_many_files_is_no_mass_delete() -> None:
    names = [f"d/f{i}" for i in range(50)]
    local = tree(ldir("d"), *(lfile(n) for n in names))
    remote = tree(rdir("d"), *(rfile(n) for n in names))
    base = tree(bdir("d"), *(bfile(n) for n in names))
    result = plan(local, remote, base, EX)
    assert not result.refusals
    assert summary(result.ops) == [("TrashLocal", "d", "EXCLUDED")]


def test_what_the_server_does_not_hold_stays_and_only_the_synced_part_is_trashed() -> None:
    local = tree(
        ldir("d"),
        lfile("d/edited", "mine", changed=True),  # changed here since the last sync
        lfile("d/new"),  # never synced
        ldir("d/sub"),
        lfile("d/sub/a"),
        ldir("d/keep"),
        lfile("d/keep/b"),
        lfile("d/keep/c", "also mine", changed=True),
    )
    remote = tree(rdir("d"), rfile("d/edited"), rdir("d/sub"), rfile("d/sub/a"), rfile("d/x"))
    remote.update(tree(rdir("d/keep"), rfile("d/keep/b"), rfile("d/keep/c")))
    base = tree(bdir("d"), bfile("d/edited"), bdir("d/sub"), bfile("d/sub/a"), bfile("d/x"))
    base.update(tree(bdir("d/keep"), bfile("d/keep/b"), bfile("d/keep/c")))
    result = plan(local, remote, base, EX)
    assert summary(result.ops) == [
        ("TrashLocal", "d/keep/b", "EXCLUDED"),
        ("TrashLocal", "d/sub", "EXCLUDED"),
        ("ForgetBase", "d", "EXCLUDED"),
    ]
    assert len(result.phases) == 2  # the forget runs after the trash ops below it


def test_an_excluded_file_changed_here_is_kept_and_forgotten() -> None:
    local = tree(lfile("f", "mine", changed=True))
    remote = tree(rfile("f"))
    base = tree(bfile("f"))
    got = summary(plan(local, remote, base, Policy(excluded=frozenset({"f"}))).ops)
    assert got == [("ForgetBase", "f", "EXCLUDED")]
