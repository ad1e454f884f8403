"""End to end: two clients converge through the real server, full and base-only."""

from __future__ import annotations

import os

import pytest

from tests.support.clients import remote_tree, write
from tests.support.postgres import ENGINES


@pytest.fixture(params=["full", "base-only", ENGINES[1].values[0]], ids=str)
def mode(request: pytest.FixtureRequest) -> str:
    """These sync cases also run against a server on PostgreSQL."""
    return request.param


def test_upload_then_download_converges(make_client, sync_server, account):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "hello.txt", "hello")
    write(a.folder / "docs/deep/note.md", "# note")
    write(a.folder / "café #1 %?.txt", "unicode and url characters")
    (a.folder / "empty-dir").mkdir(parents=True)
    a.sync()
    b.sync()
    assert b.tree() == a.tree()
    assert (b.folder / "empty-dir").is_dir()
    assert remote_tree(sync_server, *account) == a.tree()
    # nothing left to do: a second sync changes nothing and says so
    again = a.sync()
    assert "uploaded 0, downloaded 0" in again.stdout


def test_edit_delete_and_move_propagate(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "keep.txt", "v1")
    write(a.folder / "gone.txt", "bye")
    write(a.folder / "dir/x.txt", "x")
    a.sync()
    b.sync()
    write(b.folder / "keep.txt", "v2 from b")
    (b.folder / "gone.txt").unlink()
    os.rename(b.folder / "dir", b.folder / "renamed")
    b.sync()
    a.sync()
    assert a.tree() == b.tree()
    assert (a.folder / "keep.txt").read_text() == "v2 from b"
    assert not (a.folder / "gone.txt").exists()
    assert (a.folder / "renamed/x.txt").read_text() == "x"


def test_conflict_keeps_both_versions(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "report.txt", "base")
    a.sync()
    b.sync()
    write(a.folder / "report.txt", "edit from a")
    write(b.folder / "report.txt", "edit from b")
    a.sync()
    b.sync()
    a.sync()
    assert a.tree() == b.tree()
    contents = sorted(p.read_text() for p in a.folder.glob("report*.txt"))
    assert contents == ["edit from a", "edit from b"]
    copies = [p.name for p in b.folder.glob("report (conflicted copy *).txt")]
    assert len(copies) == 1, copies
    assert (b.folder / copies[0]).read_text() == "edit from b"


def test_edit_beats_delete(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "f.txt", "v1")
    a.sync()
    b.sync()
    (a.folder / "f.txt").unlink()
    write(b.folder / "f.txt", "v2 edited")
    b.sync()
    a.sync()
    assert (a.folder / "f.txt").read_text() == "v2 edited"
    b.sync()
    assert a.tree() == b.tree()


def test_first_sync_merges_without_deleting(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "only-a.txt", "a")
    write(a.folder / "same.txt", "same")
    write(a.folder / "differ.txt", "from a")
    a.sync()
    write(b.folder / "only-b.txt", "b")
    write(b.folder / "same.txt", "same")
    write(b.folder / "differ.txt", "from b")
    b.sync()
    a.sync()
    assert a.tree() == b.tree()
    names = set(a.tree())
    assert {"only-a.txt", "only-b.txt", "same.txt", "differ.txt"} <= names
    differ = sorted(p.read_text() for p in a.folder.glob("differ*.txt"))
    assert differ == ["from a", "from b"]
