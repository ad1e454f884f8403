"""The daemon's life: kill -9 and SIGTERM mid-upload, the server going away, one per folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import time

from syncd.protocol import routes
from syncd.state.store import Store
from tests.integration.daemon.daemons import FastDaemon, eventually, start_all, write
from tests.support.clients import remote_tree

# A slow, chunked upload: 3 MiB at 1 MiB/s in 256 KiB chunks through an upload session.
SLOW_UPLOAD = {
    "SYNCD_BANDWIDTH_LIMIT": "1MiB",
    "SYNCD_UPLOAD_THRESHOLD": "256KiB",
    "SYNCD_CHUNK_SIZE": "256KiB",
}
BIG = 3 * 1024 * 1024


def big_payload(seed: str) -> bytes:
    block = hashlib.sha256(seed.encode()).digest() * 32  # 1 KiB
    return block * (BIG // len(block))


def chunk_puts(server, workspace: str, offset: str | None = None) -> list[str]:
    """The upload-chunk PUTs of one workspace in the server's access log."""
    route = f"route={routes.UPLOAD} "
    lines = [ln for ln in list(server.stderr_lines) if "method=PUT " in ln and route in ln]
    lines = [ln for ln in lines if f" workspace={workspace}" in ln]
    return [ln for ln in lines if offset is None or f" offset={offset}" in ln]


def status_of(daemon: FastDaemon) -> dict:
    proc = daemon.status()
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def dirty_paths(daemon: FastDaemon) -> set[str]:
    with open_store(daemon) as store:
        return set(store.dirty.rows())


def state_of(daemon: FastDaemon) -> str | None:
    """The daemon's published state, read in-process (cheaper than a ``syncd status``)."""
    with open_store(daemon) as store:
        status = store.daemon_status.read()
    return status.state.value if status else None


def open_store(daemon: FastDaemon) -> Store:
    (db_path,) = daemon.state_dir.glob("*.sqlite3")
    return Store.open(db_path, create=False)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_kill_9_during_a_large_upload_resumes_without_loss(make_daemon, server, account):
    a, b = start_all(make_daemon("a", **SLOW_UPLOAD), make_daemon("b"))
    data = big_payload("kill")
    write(a.folder / "big.bin", data)
    eventually(lambda: chunk_puts(server, account[1]), what="a chunk landed")
    a.stop(signal.SIGKILL)
    assert (b.folder / "big.bin").exists() is False
    a.start()
    eventually(
        lambda: (
            (b.folder / "big.bin").is_file()
            and digest((b.folder / "big.bin").read_bytes()) == digest(data)
        ),
        timeout=30,
        what="big.bin arrived whole in b",
    )
    assert (a.folder / "big.bin").read_bytes() == data
    assert remote_tree(server, *account)["big.bin"] == digest(data)
    # the upload went on from the server's offset, it did not start over
    assert len(chunk_puts(server, account[1], offset="0")) == 1, chunk_puts(server, account[1])


def test_sigterm_during_a_transfer_stops_fast_and_leaves_a_consistent_state(
    make_daemon, server, account
):
    a, b = start_all(make_daemon("a", **SLOW_UPLOAD), make_daemon("b"))
    data = big_payload("term")
    write(a.folder / "term.bin", data)
    eventually(lambda: chunk_puts(server, account[1]), what="a chunk landed")
    started = time.monotonic()
    assert a.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5.0
    assert "event=stopped" in "\n".join(a.lines)
    after = status_of(a)
    assert after["daemon"] is None  # a clean stop leaves no "running" row behind
    assert "term.bin" not in remote_tree(server, *account)  # nothing half-committed
    a.start()
    eventually(
        lambda: (b.folder / "term.bin").is_file() and (b.folder / "term.bin").read_bytes() == data,
        timeout=30,
        what="term.bin arrived whole in b",
    )


def test_server_restart_goes_offline_and_resumes(make_daemon, server):
    a, b = start_all(make_daemon("a"), make_daemon("b"))
    write(a.folder / "before.txt", "before")
    eventually(lambda: (b.folder / "before.txt").exists(), what="before.txt in b")
    server.stop()
    write(a.folder / "during.txt", "written while the server was down")
    # "offline" may come from the feed before the watcher's debounce recorded the file:
    # wait for both, the server staying down throughout.
    eventually(
        lambda: state_of(a) == "offline" and "during.txt" in dirty_paths(a),
        timeout=30,
        what="a says offline, with during.txt recorded as dirty",
    )
    server.start()
    eventually(lambda: (b.folder / "during.txt").is_file(), timeout=60, what="during.txt reached b")
    assert (b.folder / "during.txt").read_text() == "written while the server was down"
    eventually(lambda: state_of(a) == "idle", timeout=30, what="a back to idle")
    assert status_of(a)["state"] == "idle"  # and `syncd status --json` agrees


def test_second_daemon_on_the_same_folder_is_refused_and_status_shows_the_first(
    make_daemon,
):
    (a,) = start_all(make_daemon("a"))
    twin = FastDaemon(a.server, a.api_key, a.workspace, a.folder, a.state_dir)
    proc = twin.start(wait_ready=False).proc
    assert proc is not None
    assert proc.wait(30) == 2
    eventually(lambda: any("already syncs this folder" in ln for ln in twin.lines))
    assert len([ln for ln in twin.lines if ln.strip()]) == 1  # one clear line
    info = status_of(a)
    assert info["state"] == "idle"
    assert info["daemon"]["pid"] == a.proc.pid
    write(a.folder / "still.txt", "the first one still works")
    eventually(lambda: "still.txt" in remote_tree(a.server, a.api_key, a.workspace))
    assert a.proc.poll() is None


def test_refused_key_exits_3(make_daemon, server):
    daemon = make_daemon("a")
    daemon.api_key = "not-a-key"
    proc = daemon.start(wait_ready=False).proc
    assert proc is not None
    assert proc.wait(30) == 3
    assert "not-a-key" not in "\n".join(daemon.lines)
    assert os.listdir(daemon.folder) == []


def test_offline_at_start_waits_for_the_server_and_stops_at_once(make_daemon, unused_url):
    daemon = make_daemon("a")
    daemon.server = type(daemon.server)(daemon.state_dir, url=unused_url)  # nothing listens
    daemon.start(wait_ready=False)
    daemon.wait_for("event=offline at=start")
    started = time.monotonic()
    assert daemon.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5.0


def retry_attempts(daemon: FastDaemon) -> int:
    """The highest attempt number of the transport's retry lines logged so far."""
    found = (re.search(r"\bretry what=.* attempt=(\d+) ", ln) for ln in list(daemon.lines))
    return max((int(m.group(1)) for m in found if m), default=0)


def test_sigterm_during_a_retry_backoff_stops_at_once(make_daemon, server):
    # Many retries and no deadline to speak of: without an interruptible wait, the stop
    # would wait out every backoff (0.5 s doubling to 30 s) before the pass gave up.
    a = make_daemon("a", SYNCD_MAX_RETRIES="30", SYNCD_DEADLINE="3600")
    a.start()
    server.stop()
    try:
        write(a.folder / "during.txt", "written while the server is down")
        # the fifth retry waits 4 to 8 s, the next ones longer still
        eventually(lambda: retry_attempts(a) >= 5, timeout=60, what="the pass is in backoff")
        started = time.monotonic()
        assert a.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 5.0
    finally:
        server.start()
    assert "event=stopped" in "\n".join(a.lines)
    assert status_of(a)["daemon"] is None  # a clean stop leaves no "running" row behind
    assert "during.txt" in dirty_paths(a)  # still to sync: the next start picks it up


def test_status_of_an_idle_daemon_shows_nothing_pending_after_it_worked(make_daemon):
    """Completed ops must not linger as "pending" in another process's view."""
    a, b = start_all(make_daemon("a"), make_daemon("b"))
    write(a.folder / "d" / "one.txt", "one")
    (a.folder / "empty").mkdir()
    eventually(lambda: (b.folder / "d" / "one.txt").is_file() and (b.folder / "empty").is_dir())

    def quiet(daemon: FastDaemon) -> dict | None:
        info = status_of(daemon)
        return info if info["state"] == "idle" and not info["pending"] else None

    for daemon in (a, b):
        info = eventually(lambda d=daemon: quiet(d), timeout=20, what="idle, nothing pending")
        assert info["dirty"] == [] and info["errors"] == []
        with open_store(daemon) as store:
            assert store.journal_rows.with_status(["started", "done", "failed"]) == []
