"""Two ``syncd serve`` processes on one PostgreSQL database and one data directory, seen
by real ``syncd sync`` clients: each client talks to its own process, and they converge;
a process killed in the middle of an upload leaves the client to finish on the other."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psycopg
import pytest

from syncd.soak.harness import ServerProcess, wait_until
from syncd.soak.proxy import Fault, FaultProxy
from tests.support.clients import SyncClient, create_workspace, remote_tree, write
from tests.support.postgres import process_pair

pytestmark = pytest.mark.postgresql
CHUNK = 4 << 20  # the chunk size the test sets; the file below spans three chunks


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with process_pair(tmp_path / "server") as both:
        yield both


def client(tmp_path: Path, server: object, key: str, workspace: str, name: str) -> SyncClient:
    (tmp_path / name).mkdir(exist_ok=True)
    return SyncClient(
        server=server,  # type: ignore[arg-type]  # anything with a url: a process, a proxy
        api_key=key,
        workspace=workspace,
        folder=tmp_path / name,
        state_dir=tmp_path / f"state-{name}",
    )


def test_clients_on_different_processes_converge(pair, tmp_path: Path) -> None:
    one, two = pair
    key = one.create_account("pair")
    workspace = create_workspace(one, key)
    a = client(tmp_path, one, key, workspace, "a")
    b = client(tmp_path, two, key, workspace, "b")

    write(a.folder / "notes.txt", "from a\n")
    write(a.folder / "docs" / "plan.md", "# plan\n")
    write(a.folder / "big.bin", os.urandom(300 << 10))  # a blob file, not kept in the database
    a.sync()
    b.sync()
    assert b.tree() == a.tree()

    # b edits, deletes, moves and adds; a hears all of it through its own process
    write(b.folder / "notes.txt", "edited on b\n")
    (b.folder / "docs" / "plan.md").unlink()
    (b.folder / "big.bin").rename(b.folder / "docs" / "big.bin")
    write(b.folder / "new" / "from-b.txt", "new on b\n")
    b.sync()
    a.sync()
    assert a.tree() == b.tree()
    assert (a.folder / "notes.txt").read_text() == "edited on b\n"
    assert not (a.folder / "docs" / "plan.md").exists()

    # and back: a moves a folder, deletes a file, edits another; b follows
    (a.folder / "new").rename(a.folder / "renamed")
    (a.folder / "notes.txt").unlink()
    write(a.folder / "docs" / "big.bin", os.urandom(200 << 10))
    a.sync()
    b.sync()
    assert b.tree() == a.tree()
    assert sorted(b.tree()) == ["docs/big.bin", "renamed/from-b.txt"]
    assert remote_tree(one, key, workspace) == remote_tree(two, key, workspace) == a.tree()


def _session_offsets(url: str) -> list[tuple[int, int]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute('SELECT "offset", size FROM uploads').fetchall()


def test_a_process_killed_mid_upload_leaves_the_client_to_finish_on_the_other(
    pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = pair
    url = one.database_url
    assert url is not None
    key = one.create_account("killed")
    workspace = create_workspace(one, key)
    body = os.urandom(3 * CHUNK - 12345)
    monkeypatch.setenv("SYNCD_CHUNK_SIZE", str(CHUNK))
    monkeypatch.setenv("SYNCD_BANDWIDTH_LIMIT", str(CHUNK // 2))  # about 2 s per chunk
    uploads = one.data_dir / "uploads"
    killed: dict[str, object] = {}

    def kill_one_inside_the_second_chunk() -> None:
        """Once process one holds part of the second chunk on disk, SIGKILL it and send
        everything that follows (the client's retries) to process two."""

        def received_part_of_the_second_chunk() -> bool:
            files = [path for path in uploads.iterdir() if path.is_file()]
            return any(path.stat().st_size > CHUNK for path in files)

        if wait_until(received_part_of_the_second_chunk, 30, interval=0.01):
            killed["offsets"] = _session_offsets(url)
            assert one.proc is not None
            one.proc.kill()
            one.proc.wait(10)
            killed["code"] = one.proc.returncode
        proxy.set_upstream(two.url)

    with FaultProxy(one.url, seed=13) as proxy:
        # the hook returns at once; the chunk goes on to process one meanwhile
        watcher: list[threading.Thread] = []

        def start_watching() -> None:
            thread = threading.Thread(target=kill_one_inside_the_second_chunk)
            watcher.append(thread)
            thread.start()

        proxy.add(
            Fault("hook", method="PUT", path=rf"/uploads/.*offset={CHUNK}\b", hook=start_watching)
        )
        a = client(tmp_path, SimpleNamespace(url=proxy.url), key, workspace, "a")
        write(a.folder / "video.bin", body)
        first = a.sync(expect=None)
        for thread in watcher:
            thread.join(30)
    assert killed.get("code") == -9, "process one was not killed inside the upload"
    # Killed mid-upload: the session holds part of the file. (The bandwidth limit paces
    # whole chunks, so on a busy machine the second chunk may already be recorded.)
    ((recorded, size),) = killed["offsets"]
    assert size == len(body) and CHUNK <= recorded < len(body)
    if first.returncode != 0:  # retries ran out while process one went away: run again
        client(tmp_path, two, key, workspace, "a").sync()
    digest = hashlib.sha256(body).hexdigest()
    assert remote_tree(two, key, workspace) == {"video.bin": digest} == a.tree()
    assert _session_offsets(url) == []  # the session was committed, not left behind

    # process two took the session over: from the recorded offset on, then the commit
    def upload_lines() -> list[str]:  # its log is read by a thread: poll until the commit
        return [line for line in list(two.stderr_lines) if "/uploads" in line]

    assert wait_until(lambda: any("/commit status=200" in ln for ln in upload_lines()), 30)
    begin = "route=/api/v1/workspaces/{workspace_id}/uploads "  # POST: a new session
    assert not [line for line in upload_lines() if begin in line], "a new session on two"
    resumed = [ln for ln in upload_lines() if f"offset={recorded}" in ln.split()]
    assert any("status=200" in line for line in resumed), upload_lines()
