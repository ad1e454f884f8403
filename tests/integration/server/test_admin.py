"""``syncd admin``: accounts, keys, backup, restore (410 afterwards), list-backups."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from syncd.soak.harness import ServerProcess, run_admin
from tests.integration.server.conftest import assert_error, files_url, first_column, listing, put


def admin(
    data_dir: Path, *args: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNCD_DATABASE_URL": database_url} if database_url else None
    return subprocess.run(
        [sys.executable, "-m", "syncd", "admin", "--data-dir", str(data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_accounts_and_keys(shared_server: ServerProcess) -> None:
    out = shared_server.admin("create-account", "carol")
    key = out.strip().splitlines()[-1]
    again = admin(
        shared_server.data_dir, "create-account", "carol", database_url=shared_server.database_url
    )
    assert again.returncode == 2 and "exists" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    second = shared_server.admin("create-key", "carol").strip().splitlines()[-1]
    assert second != key
    with shared_server.client(key) as one, shared_server.client(second) as two:
        assert one.get("/api/v1/accounts/me").json() == two.get("/api/v1/accounts/me").json()
    assert (
        admin(
            shared_server.data_dir, "create-key", "nobody", database_url=shared_server.database_url
        ).returncode
        == 2
    )
    stored = first_column(shared_server, "SELECT key_hash FROM api_keys")
    assert key not in stored and second not in stored  # only hashes are stored
    if shared_server.database_url is None:
        db = (shared_server.data_dir / "syncd.db").read_bytes()
        assert key.encode() not in db and second.encode() not in db


def feed(client: httpx.Client, ws: str, cursor: int) -> httpx.Response:
    return client.get(f"/api/v1/workspaces/{ws}/changes", params={"from_revision": cursor})


def test_backup_and_restore_start_a_new_lineage(
    shared_server: ServerProcess, client: httpx.Client, ws: str, tmp_path: Path
) -> None:
    put(client, ws, "keep/a.txt", b"version one")
    put(client, ws, "b.txt", b"bee")
    put(client, ws, "dup.txt", b"bee")
    snapshot = listing(client, ws)
    backup_file = tmp_path / "ws.tar"
    shared_server.admin("backup", ws, str(backup_file))
    assert backup_file.stat().st_size > 0
    put(client, ws, "keep/a.txt", b"version two")
    put(client, ws, "later.txt", b"after the backup")
    cursor = feed(client, ws, 0).json()["end_revision"]
    shared_server.admin("restore", str(backup_file))
    restored = listing(client, ws)
    assert set(restored) == set(snapshot)
    assert client.get(files_url(ws, "keep/a.txt")).content == b"version one"
    assert client.get(files_url(ws, "dup.txt")).content == b"bee"
    for old in (0 + 1, cursor):
        assert_error(feed(client, ws, old), 410, "revision_obsoleted")
    full = feed(client, ws, 0).json()
    assert full["end_revision"] > cursor  # no revision number is reused
    put(client, ws, "new.txt", b"n")
    page = feed(client, ws, full["end_revision"]).json()
    assert [e["path"] for e in page["created"]] == ["new.txt"]
    assert page["created"][0]["revision"] > cursor
    listed = shared_server.admin("list-backups")
    assert ws in listed and "manual" in listed


def test_delete_keeps_a_backup_that_restores(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    put(client, ws, "x/y.bin", bytes(range(256)))
    assert client.delete(f"/api/v1/workspaces/{ws}").status_code == 204
    assert_error(client.get(f"/api/v1/workspaces/{ws}"), 404, "not_found")
    rows = [line.split("\t") for line in shared_server.admin("list-backups").splitlines()[1:]]
    mine = [row for row in rows if row[1] == ws and row[3] == "deleted"]
    assert len(mine) == 1
    shared_server.admin("restore", mine[0][-1])
    assert client.get(f"/api/v1/workspaces/{ws}").status_code == 200
    assert client.get(files_url(ws, "x/y.bin")).content == bytes(range(256))


def test_admin_without_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "offline"
    key = run_admin(data, "create-account", "offline").strip().splitlines()[-1]
    with ServerProcess(data) as server, server.client(key) as http:
        ws = http.post("/api/v1/workspaces").json()["id"]
        put(http, ws, "f", b"1")
    backup_file = tmp_path / "b.tar"
    run_admin(data, "backup", ws, str(backup_file))
    run_admin(data, "restore", str(backup_file))
    assert admin(data, "backup", "w-nope", str(tmp_path / "n.tar")).returncode == 2
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar")
    failed = admin(data, "restore", str(bad))
    assert failed.returncode == 2 and failed.stderr.count("\n") == 1
