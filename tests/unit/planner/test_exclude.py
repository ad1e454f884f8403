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
