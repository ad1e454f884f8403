"""End to end: moves are one request, names survive the trip, status reports the sync."""

from __future__ import annotations

import json
import os
import unicodedata

from tests.support.clients import remote_tree, write


def requests_since(server, mark: int, method: str) -> list[str]:
    """Access-log lines of the server after ``mark`` for one HTTP method."""
    return [line for line in server.stderr_lines[mark:] if f" {method} " in line]


def test_directory_rename_is_one_move_without_transfer(make_client, sync_server, account, mode):
    a, b = make_client("a"), make_client("b")
    for i in range(10):
        write(a.folder / f"photos/{i}.jpg", f"picture {i}")
    a.sync()
    b.sync()
    os.rename(a.folder / "photos", a.folder / "albums")
    mark = len(sync_server.stderr_lines)
    proc = a.sync()
    assert "op=MoveRemote path=photos dest=albums" in proc.stderr
    assert requests_since(sync_server, mark, "PUT") == []
    b.sync()
    assert set(b.tree()) == {f"albums/{i}.jpg" for i in range(10)}
    assert remote_tree(sync_server, *account) == a.tree()


def test_nfd_name_on_disk_syncs_as_one_nfc_entry(make_client, sync_server, account):
    a, b = make_client("a"), make_client("b")
    nfd = unicodedata.normalize("NFD", "résumé.txt")
    write(a.folder / nfd, "cv")
    a.sync()
    assert set(remote_tree(sync_server, *account)) == {unicodedata.normalize("NFC", nfd)}
    b.sync()
    # a second sync of the NFD side sees no change: the NFD spelling is the same entry
    again = a.sync()
    assert "uploaded 0, downloaded 0" in again.stdout
    assert [p.name for p in b.folder.iterdir() if not p.name.startswith(".syncd-")] == [
        unicodedata.normalize("NFC", nfd)
    ]


def test_three_clients_converge_with_concurrent_edits(make_client):
    a, b, c = make_client("a"), make_client("b"), make_client("c")
    write(a.folder / "shared.txt", "v0")
    a.sync()
    b.sync()
    c.sync()
    write(a.folder / "shared.txt", "from a")
    write(b.folder / "shared.txt", "from b")
    write(c.folder / "c-only.txt", "c")
    for client in (a, b, c, a, b):
        client.sync()
    assert a.tree() == b.tree() == c.tree()
    versions = sorted(p.read_text() for p in c.folder.glob("shared*.txt"))
    assert versions == ["from a", "from b"]


def test_status_json_reports_last_sync_and_conflicts(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "x.txt", "base")
    a.sync()
    b.sync()
    write(a.folder / "x.txt", "a")
    write(b.folder / "x.txt", "b")
    a.sync()
    b.sync()
    proc = b.run("--json", command="status")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["last_sync"] is not None
    assert info["last_result"]["conflicts"] == 1
    assert [c["path"] for c in info["conflicts"]] == ["x.txt"]
