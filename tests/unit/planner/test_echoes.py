"""The server's echoes of what the base agreed on become ``RecordBase`` (REMOTE_ECHO).

Our upload comes back through the feed with a new revision and the same hash; a folder's
revision or time moves on the server alone. The planner adopts the new revision with an
op, so gathering facts writes nothing and a dry run only lists it.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from syncd.planner.ops import Policy, RecordBase
from syncd.planner.plan import plan
from syncd.planner.trees import RemoteNode
from syncd.worker.ops import record_base
from tests.unit.planner.build import (
    D,
    F,
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

P, DIR = "a.txt", "docs"

ECHOES = [
    # id, local, remote, base, expected (op, path, reason)
    (
        "ours-back",
        tree(lfile(P)),
        tree(rfile(P, rev=7)),
        tree(bfile(P)),
        [("RecordBase", P, "REMOTE_ECHO")],
    ),
    (
        "ours-back-local-touched",
        tree(lfile(P, changed=True)),
        tree(rfile(P, rev=7)),
        tree(bfile(P)),
        [("RecordBase", P, "UNCHANGED")],  # both sides' facts refreshed at once
    ),
    (
        "ours-back-local-edited",
        tree(lfile(P, "y", changed=True)),
        tree(rfile(P, rev=7)),
        tree(bfile(P)),
        [("Upload", P, "LOCAL_CHANGED")],
    ),
    (
        "ours-back-local-deleted",
        {},
        tree(rfile(P, rev=7)),
        tree(bfile(P)),
        [("DeleteRemote", P, "LOCAL_DELETED")],
    ),
    ("same-revision", tree(lfile(P)), tree(rfile(P)), tree(bfile(P)), []),
    (
        "other-hash",
        tree(lfile(P)),
        tree(rfile(P, "y", rev=7)),
        tree(bfile(P)),
        [("Download", P, "REMOTE_CHANGED")],
    ),
    (
        "folder-new-revision",
        tree(ldir(DIR)),
        tree(rdir(DIR, rev=3)),
        tree(bdir(DIR)),
        [("RecordBase", DIR, "REMOTE_ECHO")],
    ),
    ("folder-same-revision", tree(ldir(DIR)), tree(rdir(DIR)), tree(bdir(DIR)), []),
    (
        "folder-gone-locally",
        {},
        tree(rdir(DIR, rev=3)),
        tree(bdir(DIR)),
        [("DeleteRemote", DIR, "LOCAL_DELETED")],
    ),
]


@pytest.mark.parametrize(
    ("local", "remote", "base", "expected"),
    [row[1:] for row in ECHOES],
    ids=[row[0] for row in ECHOES],
)
def test_echo_row(local, remote, base, expected):
    local, remote, base = (
        {**local, "k": lfile("k")},
        {**remote, "k": rfile("k")},
        {**base, "k": bfile("k")},
    )
    result, _ = run(local, remote, base)  # applied, it converges and the next plan is empty
    assert summary(result.ops) == expected
    assert not result.refusals


def test_an_echo_is_recorded_in_a_merge_too():
    result = plan(tree(lfile(P)), tree(rfile(P, rev=7)), tree(bfile(P)), Policy(is_merge=True))
    assert summary(result.ops) == [("RecordBase", P, "REMOTE_ECHO")]


def test_a_base_only_listing_is_never_taken_for_an_echo():
    # No hash, no revision: a same-size entry may be another client's write (rules.py).
    bare = RemoteNode(P, F, 1, "t1")
    base = tree(replace(bfile(P), remote_revision=None))
    result = plan(tree(lfile(P)), tree(bare), base, Policy())
    assert summary(result.ops) == []


def test_the_recorded_row_only_adopts_the_servers_revision_and_time():
    base, remote = bfile(P), rfile(P, rev=7)
    (op,) = plan(tree(lfile(P)), tree(remote), tree(base), Policy()).ops
    assert isinstance(op, RecordBase)
    expected = replace(base, remote_revision=7, remote_modified_time=remote.modified_time)
    assert record_base(op) == expected  # what the worker writes for it


def test_a_folder_echo_records_the_inode_seen_now():
    """The folder's row takes its inode from the scan, as every recorded folder does, so
    a later rename of it is found as one move."""
    remote = RemoteNode(DIR, D, revision=3, modified_time="t3")
    (op,) = plan(tree(ldir(DIR, inode=99)), tree(remote), tree(bdir(DIR)), Policy()).ops
    assert isinstance(op, RecordBase) and op.reason == "REMOTE_ECHO"
    assert record_base(op) == replace(
        bdir(DIR), local_inode=99, remote_revision=3, remote_modified_time="t3"
    )
