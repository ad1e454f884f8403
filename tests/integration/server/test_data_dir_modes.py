"""The data directory holds every account's files: no other local user may read it.

The server runs with the test's umask (usually 022), as a user's shell would start it.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import httpx

from syncd.soak.harness import ServerProcess, run_admin


def modes(root: Path) -> dict[str, int]:
    """The permission bits of ``root`` and of everything below it, by relative path."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def open_to_others(root: Path) -> dict[str, str]:
    return {path: oct(mode) for path, mode in modes(root).items() if mode & 0o077}


def startup_log(server: ServerProcess, http: httpx.Client) -> list[str]:
    """The server's stderr up to an answered request: all that start-up logged is in it."""
    assert http.get("/api/v1/workspaces").status_code == 200
    deadline = time.monotonic() + 10
    while not any("route=/api/v1/workspaces " in line for line in server.stderr_lines):
        assert time.monotonic() < deadline, server.stderr_lines
        time.sleep(0.02)
    return list(server.stderr_lines)


def write_everything(server: ServerProcess, http: httpx.Client) -> None:
    """Small and large files, an unfinished upload, a deleted workspace (its backup)."""
    ws = http.post("/api/v1/workspaces", json={"name": "modes"}).json()["id"]
    files = f"/api/v1/workspaces/{ws}/files"
    assert http.put(f"{files}/small.txt", content=b"secret").status_code == 204
    assert http.put(f"{files}/dir/large.bin", content=os.urandom(300_000)).status_code == 204
    begun = http.post(f"/api/v1/workspaces/{ws}/uploads", json={"path": "u.bin", "size": 10})
    upload = f"/api/v1/workspaces/{ws}/uploads/{begun.json()['upload_id']}"
    assert http.put(f"{upload}?offset=0", content=b"12345").status_code == 200
    doomed = http.post("/api/v1/workspaces", json={"name": "doomed"}).json()["id"]
    assert (
        http.put(f"/api/v1/workspaces/{doomed}/files/x", content=b"x" * 100_000).status_code == 204
    )
    assert http.delete(f"/api/v1/workspaces/{doomed}").status_code == 204
    run_admin(server.data_dir, "backup", ws, str(server.data_dir / "backups" / "manual.tar"))


def test_everything_under_a_new_data_dir_is_private(tmp_path: Path) -> None:
    data = tmp_path / "new" / "data"
    with ServerProcess(data) as server:
        key = server.create_account("modes")
        with server.client(key) as http:
            write_everything(server, http)
        found = modes(data)
        assert {"syncd.db", "syncd.db-wal", "syncd.db-shm", "uploads", "backups"} <= set(found)
        assert any(path.startswith("blobs/") and len(path) > 70 for path in found)
        assert any(path.startswith("backups/w-") for path in found)
        assert found["."] == 0o700
        assert open_to_others(data) == {}
        assert all(
            mode == (0o700 if (data / path).is_dir() else 0o600) for path, mode in found.items()
        ), found


def test_admin_alone_creates_a_private_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "admin-only"
    run_admin(data, "create-account", "alone")
    assert modes(data)["."] == 0o700
    assert open_to_others(data) == {}


def test_an_open_data_dir_is_made_private_at_start(tmp_path: Path) -> None:
    data = tmp_path / "old"
    with ServerProcess(data) as server:
        key = server.create_account("old")
        with server.client(key) as http:
            write_everything(server, http)
    for path in [data, *data.rglob("*")]:  # as an older version, or a careless chmod, left it
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert open_to_others(data)
    with ServerProcess(data) as server, server.client(key) as http:
        log = startup_log(server, http)  # it serves what it holds, after one warning
        assert len([line for line in log if "open to other users" in line]) == 1, log
    assert modes(data)["."] == 0o700
    assert open_to_others(data) == {}
    with ServerProcess(data) as server, server.client(key) as http:  # private: no warning
        assert not [line for line in startup_log(server, http) if "open to other" in line]


def test_a_shared_folder_is_not_changed_only_warned_about(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("not the server's")
    shared.chmod(0o755)
    with ServerProcess(shared) as server:
        key = server.create_account("shared")
        with server.client(key) as http:
            log = startup_log(server, http)
    assert [line for line in log if "open to other users" in line], log
    assert modes(shared)["."] == 0o755  # the folder is not the server's to close
    assert set(open_to_others(shared)) == {".", "notes.txt"}  # what the server made is private
