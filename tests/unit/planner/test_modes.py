"""One-way modes: the planner emits only ops that write the allowed side, and keeps both
versions where the sides differ."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.planner.modes import writes_local, writes_remote
from syncd.planner.ops import (
    DeleteRemote,
    Download,
    KeepBoth,
    Mode,
    Policy,
    Reason,
    UploadCopy,
)
from syncd.planner.plan import plan
from tests.unit.planner.build import bfile, lfile, rfile, summary, tree
from tests.unit.planner.gen import worlds

UP = Policy(mode=Mode.UPLOAD_ONLY)
DOWN = Policy(mode=Mode.DOWNLOAD_ONLY)
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(worlds(), st.booleans(), st.booleans())
def test_upload_only_never_writes_the_local_folder(world, is_merge, propagate):
    local, remote, base, folds = world
    policy = Policy(
        mode=Mode.UPLOAD_ONLY,
        folds_case=folds,
        is_merge=is_merge,
        allow_mass_delete=True,
        propagate_deletes=propagate,
    )
    result = plan(local, remote, base, policy)
    assert [op for op in result.ops if writes_local(op)] == []
    if not propagate:
        assert [op for op in result.ops if isinstance(op, DeleteRemote)] == []


@PROPERTY
@given(worlds(), st.booleans())
def test_download_only_never_writes_the_server(world, is_merge):
    local, remote, base, folds = world
    policy = Policy(
        mode=Mode.DOWNLOAD_ONLY, folds_case=folds, is_merge=is_merge, allow_mass_delete=True
    )
    result = plan(local, remote, base, policy)
    assert [op for op in result.ops if writes_remote(op)] == []


def test_upload_only_conflict_sends_the_local_version_under_a_conflict_name():
    result = plan(
        tree(lfile("a.txt", "l", changed=True)),
        tree(rfile("a.txt", "r", rev=2)),
        tree(bfile("a.txt")),
        UP,
    )
    (op,) = result.ops
    assert isinstance(op, UploadCopy)
    assert op.path == "a.txt" and op.dest.startswith("a (conflicted copy ")
    assert op.dest.endswith(".txt")


def test_upload_only_leaves_a_remote_change_alone():
    result = plan(tree(lfile("a.txt")), tree(rfile("a.txt", "r", rev=2)), tree(bfile("a.txt")), UP)
    assert summary(result.ops) == []


def test_upload_only_keeps_the_remote_file_of_a_local_delete_unless_told():
    remote, base = tree(rfile("a.txt")), tree(bfile("a.txt"))
    assert summary(plan({}, remote, base, UP).ops) == [("ForgetBase", "a.txt", "LOCAL_DELETED")]
    told = Policy(mode=Mode.UPLOAD_ONLY, propagate_deletes=True)
    assert summary(plan({}, remote, base, told).ops) == [("DeleteRemote", "a.txt", "LOCAL_DELETED")]


def test_upload_only_propagated_deletes_still_meet_the_mass_delete_guard():
    names = [f"f{i}.txt" for i in range(30)]
    base = tree(*(bfile(n) for n in names))
    remote = tree(*(rfile(n) for n in names))
    told = Policy(mode=Mode.UPLOAD_ONLY, propagate_deletes=True)
    assert plan({}, remote, base, told).is_refused


def test_download_only_conflict_keeps_the_local_edit_as_a_local_copy():
    result = plan(
        tree(lfile("a.txt", "l", changed=True)),
        tree(rfile("a.txt", "r", rev=2)),
        tree(bfile("a.txt")),
        DOWN,
    )
    (op,) = result.ops
    assert isinstance(op, KeepBoth) and not op.upload_copy


def test_download_only_leaves_local_news_and_edits_and_redownloads_a_local_delete():
    local = tree(lfile("new.txt", "n"), lfile("edit.txt", "e", changed=True))
    remote = tree(rfile("edit.txt"), rfile("gone.txt"))
    base = tree(bfile("edit.txt"), bfile("gone.txt"))
    result = plan(local, remote, base, DOWN)
    assert [(type(op), op.path) for op in result.ops] == [(Download, "gone.txt")]
    assert result.ops[0].reason is Reason.LOCAL_DELETED


def test_upload_only_sends_a_file_the_server_deleted_again():
    result = plan(tree(lfile("a.txt")), {}, tree(bfile("a.txt")), UP)
    assert summary(result.ops) == [("Upload", "a.txt", "REMOTE_DELETED")]
    assert result.ops[0].remote is None  # create only: never over a version unseen
