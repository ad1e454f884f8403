"""One row per line of the decision table (docs/design.md), plus merge and missing facts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from syncd.planner.ops import Download, KeepBoth, Need, Policy, RecordBase, Upload
from syncd.planner.plan import plan
from syncd.planner.trees import BaseNode, RemoteNode
from tests.unit.planner.build import (
    F,
    bfile,
    lfile,
    rfile,
    run,
    summary,
    tree,
)

P = "a.txt"
base = tree(bfile(P))

TABLE = [
    # id, local, remote, base, expected (op, path, reason)
    ("same-same", tree(lfile(P)), tree(rfile(P)), base, []),
    (
        "local-changed",
        tree(lfile(P, "y", changed=True)),
        tree(rfile(P)),
        base,
        [("Upload", P, "LOCAL_CHANGED")],
    ),
    ("local-new", tree(lfile(P)), {}, {}, [("Upload", P, "LOCAL_NEW")]),
    (
        "remote-changed",
        tree(lfile(P)),
        tree(rfile(P, "y", rev=2)),
        base,
        [("Download", P, "REMOTE_CHANGED")],
    ),
    ("remote-new", {}, tree(rfile(P)), {}, [("Download", P, "REMOTE_NEW")]),
    ("local-deleted", {}, tree(rfile(P)), base, [("DeleteRemote", P, "LOCAL_DELETED")]),
    ("remote-deleted", tree(lfile(P)), {}, base, [("TrashLocal", P, "REMOTE_DELETED")]),
    (
        "edit-beats-remote-delete",
        tree(lfile(P, "y", changed=True)),
        {},
        base,
        [("Upload", P, "EDIT_BEATS_DELETE")],
    ),
    (
        "edit-beats-local-delete",
        {},
        tree(rfile(P, "y", rev=2)),
        base,
        [("Download", P, "EDIT_BEATS_DELETE")],
    ),
    (
        "both-changed-equal",
        tree(lfile(P, "y", changed=True)),
        tree(rfile(P, "y", rev=2)),
        base,
        [("RecordBase", P, "BOTH_EQUAL")],
    ),
    (
        "both-changed-different",
        tree(lfile(P, "y", changed=True)),
        tree(rfile(P, "z", rev=2)),
        base,
        [("KeepBoth", P, "BOTH_CHANGED")],
    ),
    ("both-deleted", {}, {}, base, [("ForgetBase", P, "BOTH_DELETED")]),
    (
        "both-new-equal",
        tree(lfile(P, "y")),
        tree(rfile(P, "y")),
        {},
        [("RecordBase", P, "BOTH_EQUAL")],
    ),
    (
        "both-new-different",
        tree(lfile(P, "y")),
        tree(rfile(P, "zz")),
        {},
        [("KeepBoth", P, "BOTH_CHANGED")],
    ),
    (
        "local-touched-same-hash",
        tree(lfile(P, changed=True)),
        tree(rfile(P)),
        base,
        [("RecordBase", P, "UNCHANGED")],
    ),
    (
        "remote-new-revision-same-hash",
        tree(lfile(P)),
        tree(rfile(P, rev=7)),
        base,
        [("RecordBase", P, "REMOTE_ECHO")],
    ),
    (
        "local-same-stat-other-hash",
        tree(lfile(P, "y")),
        tree(rfile(P)),
        base,
        [("Upload", P, "LOCAL_CHANGED")],
    ),
]


@pytest.mark.parametrize(
    ("local", "remote", "base", "expected"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_table_row(local, remote, base, expected):
    # A steady sibling, so that an emptied folder (a guard of its own) is not the story here.
    local, remote, base = (
        {**local, "k": lfile("k")},
        {**remote, "k": rfile("k")},
        {**base, "k": bfile("k")},
    )
    result, _ = run(local, remote, base)
    assert summary(result.ops) == expected
    assert not result.refusals


def test_upload_carries_the_remote_it_saw_and_create_only_after_delete():
    changed = plan(tree(lfile(P, "y", changed=True)), tree(rfile(P, rev=1)), base, Policy())
    (op,) = changed.ops
    assert isinstance(op, Upload) and op.remote == rfile(P, rev=1)
    again = plan(tree(lfile(P, "y", changed=True)), {}, base, Policy())
    (op,) = again.ops
    assert isinstance(op, Upload) and op.remote is None


def test_download_carries_the_local_it_saw_or_none_for_absent():
    (op,) = plan(tree(lfile(P)), tree(rfile(P, "y", rev=2)), base, Policy()).ops
    assert isinstance(op, Download) and op.local == lfile(P)
    (op,) = plan({}, tree(rfile(P, "y", rev=2)), base, Policy()).ops
    assert isinstance(op, Download) and op.local is None


def test_conflict_copy_name_follows_cli_pattern():
    policy = Policy(now="2026-11-22 101500", host="laptop")
    local = tree(lfile("docs/report.final.pdf", "y"))
    remote = tree(rfile("docs/report.final.pdf", "z"))
    (op,) = [o for o in plan(local, remote, {}, policy).ops if isinstance(o, KeepBoth)]
    assert op.conflict_path == "docs/report.final (conflicted copy 2026-11-22 101500 laptop).pdf"


# Merge: first sync, or reset after revision_obsoleted. Nothing is deleted.

MERGE = [
    ("local-only", tree(lfile(P)), {}, {}, [("Upload", P, "MERGE_LOCAL_ONLY")]),
    ("remote-only", {}, tree(rfile(P)), {}, [("Download", P, "MERGE_REMOTE_ONLY")]),
    ("equal", tree(lfile(P, "y")), tree(rfile(P, "y")), {}, [("RecordBase", P, "BOTH_EQUAL")]),
    (
        "different",
        tree(lfile(P, "y")),
        tree(rfile(P, "z")),
        {},
        [("KeepBoth", P, "MERGE_DIFFERENT")],
    ),
    ("base-says-local-deleted", {}, tree(rfile(P)), base, [("Download", P, "MERGE_REMOTE_ONLY")]),
    ("base-says-remote-deleted", tree(lfile(P)), {}, base, [("Upload", P, "MERGE_LOCAL_ONLY")]),
    (
        "remote-changed-is-kept-both",
        tree(lfile(P)),
        tree(rfile(P, "y", rev=2)),
        base,
        [("KeepBoth", P, "MERGE_DIFFERENT")],
    ),
    ("both-unchanged", tree(lfile(P)), tree(rfile(P)), base, []),
    ("both-gone", {}, {}, base, [("ForgetBase", P, "BOTH_DELETED")]),
]


@pytest.mark.parametrize(
    ("local", "remote", "base", "expected"),
    [row[1:] for row in MERGE],
    ids=[row[0] for row in MERGE],
)
def test_merge_row(local, remote, base, expected):
    result, _ = run(local, remote, base, Policy(is_merge=True))
    assert summary(result.ops) == expected
    assert not any(type(op).__name__ in ("TrashLocal", "DeleteRemote") for op in result.ops)


# Missing facts: the planner asks instead of guessing.


def _bare(path: str, content: str, *, time: str = "t2") -> RemoteNode:
    """A base-only server entry: no revision, no hash."""
    return RemoteNode(path, F, len(content), time, None, None)


bare_base = tree(BaseNode(P, F, 1, "sha256:x", 1, bfile(P).local_inode, None, "t1"))


def test_local_hash_missing_is_a_need():
    local = tree(lfile(P, "y", changed=True).__class__(P, F, 1, 2, 5, None))
    result = plan(local, tree(rfile(P, "z", rev=2)), base, Policy())
    assert result.need == Need(local_hashes=frozenset({P}))
    assert result.ops == ()


def test_base_only_both_changed_equal_size_needs_remote_contents():
    local = tree(lfile(P, "y", changed=True))
    result = plan(local, tree(_bare(P, "z")), bare_base, Policy())
    assert result.need == Need(remote_contents=frozenset({P}))


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (Policy(equal_contents=frozenset({P})), "RecordBase"),
        (Policy(different_contents=frozenset({P})), "KeepBoth"),
    ],
)
def test_base_only_compared_contents_decide(policy, expected):
    local = tree(lfile(P, "y", changed=True))
    result = plan(local, tree(_bare(P, "z")), bare_base, policy)
    assert result.need is None
    assert [type(op).__name__ for op in result.ops] == [expected]


def test_base_only_different_sizes_need_no_download():
    local = tree(lfile(P, "yy", changed=True))
    result = plan(local, tree(_bare(P, "z")), bare_base, Policy())
    assert result.need is None
    assert [type(op).__name__ for op in result.ops] == ["KeepBoth"]


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        (_bare(P, "x", time="t1"), []),
        (_bare(P, "x", time="t9"), [("Download", P, "REMOTE_CHANGED")]),
        (_bare(P, "xyz", time="t1"), [("Download", P, "REMOTE_CHANGED")]),
    ],
)
def test_base_only_change_detection_by_size_and_time(remote, expected):
    result = plan(tree(lfile(P)), tree(remote), bare_base, Policy())
    assert summary(result.ops) == expected


# Base-only server, our own upload not yet confirmed: the base holds no server time for it,
# and an entry of the size we sent may be another client's write. Only its bytes tell.

unconfirmed = tree(replace(bare_base[P], remote_modified_time=None))
ours, theirs = "sha256:x", "sha256:y"  # the hash we sent; another write of the same size

UNCONFIRMED = [
    # id, local, remote hash fetched, expected
    ("unchanged-ours", tree(lfile(P)), ours, [("RecordBase", P, "UPLOAD_CONFIRMED")]),
    ("unchanged-theirs", tree(lfile(P)), theirs, [("Download", P, "REMOTE_CHANGED")]),
    (
        "local-edit-ours",
        tree(lfile(P, "z", changed=True)),
        ours,
        [("Upload", P, "LOCAL_CHANGED")],
    ),
    (
        "local-edit-theirs-equal",
        tree(lfile(P, "y", changed=True)),
        theirs,
        [("RecordBase", P, "BOTH_EQUAL")],
    ),
    (
        "local-edit-theirs-different",
        tree(lfile(P, "z", changed=True)),
        theirs,
        [("KeepBoth", P, "BOTH_CHANGED")],
    ),
    ("local-deleted-ours", {}, ours, [("DeleteRemote", P, "LOCAL_DELETED")]),
    ("local-deleted-theirs", {}, theirs, [("Download", P, "EDIT_BEATS_DELETE")]),
]


@pytest.mark.parametrize(
    ("local", "fetched", "expected"),
    [row[1:] for row in UNCONFIRMED],
    ids=[row[0] for row in UNCONFIRMED],
)
def test_base_only_unconfirmed_upload_is_settled_by_the_hash_of_its_bytes(local, fetched, expected):
    remote = tree(_bare(P, "x"))
    asked = plan(local, remote, unconfirmed, Policy())
    assert asked.need == Need(remote_hashes=frozenset({P}))
    assert asked.ops == ()
    told = Policy(remote_hashes={P: fetched})
    result = plan(local, remote, unconfirmed, told)
    assert result.need is None
    assert summary(result.ops) == expected


def test_base_only_confirmed_upload_records_the_time_it_was_listed_with():
    told = Policy(remote_hashes={P: "sha256:x"})
    (op,) = plan(tree(lfile(P)), tree(_bare(P, "x", time="t7")), unconfirmed, told).ops
    assert isinstance(op, RecordBase) and op.remote.modified_time == "t7"
    assert op.local.hash == "sha256:x"


def test_base_only_unconfirmed_upload_of_another_size_is_a_change_without_download():
    result = plan(tree(lfile(P)), tree(_bare(P, "xyz")), unconfirmed, Policy())
    assert result.need is None
    assert summary(result.ops) == [("Download", P, "REMOTE_CHANGED")]


def test_unconfirmed_upload_in_a_merge_keeps_both_unless_ours():
    remote = tree(_bare(P, "x"))
    ours_ = Policy(is_merge=True, remote_hashes={P: "sha256:x"})
    theirs_ = Policy(is_merge=True, remote_hashes={P: "sha256:y"})
    assert summary(plan(tree(lfile(P)), remote, unconfirmed, ours_).ops) == [
        ("RecordBase", P, "UPLOAD_CONFIRMED")
    ]
    assert summary(plan(tree(lfile(P)), remote, unconfirmed, theirs_).ops) == [
        ("KeepBoth", P, "MERGE_DIFFERENT")
    ]


def test_full_server_never_needs_the_bytes_of_an_upload():
    # The feed's hash proves the echo; a base without a revision is no doubt there.
    base_ = tree(replace(bfile(P), remote_revision=None, remote_modified_time=None))
    result = plan(tree(lfile(P)), tree(rfile(P, rev=9)), base_, Policy())
    assert result.need is None
    assert summary(result.ops) == [("RecordBase", P, "REMOTE_ECHO")]
