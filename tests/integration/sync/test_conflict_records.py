"""End to end: ``syncd status`` lists a conflict while its copy exists, and no longer."""

from __future__ import annotations

import json

from syncd.state.store import Store
from tests.support.clients import SyncClient, write


def conflicts_shown(client: SyncClient) -> list[str]:
    proc = client.run("--json", command="status")
    assert proc.returncode == 0, proc.stderr
    return [c["conflict_path"] for c in json.loads(proc.stdout)["conflicts"]]


def conflicts_recorded(client: SyncClient) -> list[str]:
    (db,) = client.state_dir.glob("*.sqlite3")
    with Store.open(db, create=False) as store:
        return [c.conflict_path for c in store.conflicts.rows()]


def make_conflict(a: SyncClient, b: SyncClient, name: str) -> str:
    """Both edit ``name``; b syncs last and keeps its version as a conflict copy."""
    write(a.folder / name, "base")
    a.sync()
    b.sync()
    before = set(conflicts_shown(b))
    write(a.folder / name, "edit from a")
    write(b.folder / name, "edit from b, longer")
    a.sync()
    b.sync()
    (copy,) = set(conflicts_shown(b)) - before
    assert (b.folder / copy).read_text() == "edit from b, longer"
    return copy


def test_a_conflict_whose_copy_is_gone_is_not_listed_and_then_forgotten(make_client):
    a, b = make_client("a"), make_client("b")
    copy = make_conflict(a, b, "report.txt")
    (b.folder / copy).unlink()  # the user resolved it: kept the other version
    assert conflicts_shown(b) == []  # checked when listing, before any sync
    assert conflicts_recorded(b) == [copy]
    b.sync()
    assert conflicts_recorded(b) == []  # forgotten by the next sync


def test_a_copy_deleted_on_another_device_ends_the_conflict_here(make_client):
    a, b = make_client("a"), make_client("b")
    copy = make_conflict(a, b, "notes.txt")
    a.sync()  # a gets the copy too
    keep = make_conflict(a, b, "other.txt")
    (a.folder / copy).unlink()
    a.sync()
    b.sync()  # the remote delete moves b's copy into the trash
    assert not (b.folder / copy).exists()
    assert conflicts_shown(b) == [keep]
    assert conflicts_recorded(b) == [keep]
