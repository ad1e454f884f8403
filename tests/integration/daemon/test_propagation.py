"""Two daemons on two folders: every kind of change propagates both ways, bursts coalesce."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from syncd.soak.harness import ServerProcess
from tests.integration.daemon.daemons import FastDaemon, eventually, start_all, write
from tests.support.clients import create_workspace, remote_tree


def converged(a: FastDaemon, b: FastDaemon) -> bool:
    tree = a.tree()
    return bool(tree) and tree == b.tree()


def wait_file(path: Path, text: str, timeout: float = 20.0) -> None:
    def check() -> bool:
        try:
            return path.read_text() == text
        except (FileNotFoundError, IsADirectoryError):
            return False

    eventually(check, timeout=timeout, what=f"{path} == {text!r}")


def wait_gone(path: Path, timeout: float = 20.0) -> None:
    eventually(lambda: not path.exists(), timeout=timeout, what=f"{path} removed")


def test_changes_propagate_both_ways(make_daemon):
    a, b = start_all(make_daemon("a"), make_daemon("b"))
    propagate(a, b)
    propagate(b, a)
    # an editor's save: write a temp file, rename it over the target -> one edit
    write(a.folder / "doc.txt", "v1")
    wait_file(b.folder / "doc.txt", "v1")
    write(a.folder / "doc.txt.swp~tmp", "v2")
    os.replace(a.folder / "doc.txt.swp~tmp", a.folder / "doc.txt")
    wait_file(b.folder / "doc.txt", "v2")
    eventually(lambda: converged(a, b), what="both folders equal")
    assert not (b.folder / "doc.txt.swp~tmp").exists()


def propagate(src: FastDaemon, dst: FastDaemon) -> None:
    """Create, edit, move, rename a directory and delete in ``src``; watch ``dst`` follow."""
    tag = src.folder.name

    s, d = src.folder, dst.folder
    write(s / f"{tag}-new.txt", "created")
    write(s / f"{tag}-dir/sub/deep.txt", "deep")
    wait_file(d / f"{tag}-new.txt", "created")
    wait_file(d / f"{tag}-dir/sub/deep.txt", "deep")

    write(s / f"{tag}-new.txt", "edited")
    wait_file(d / f"{tag}-new.txt", "edited")

    os.rename(s / f"{tag}-new.txt", s / f"{tag}-moved.txt")
    wait_file(d / f"{tag}-moved.txt", "edited")
    wait_gone(d / f"{tag}-new.txt")

    os.rename(s / f"{tag}-dir", s / f"{tag}-renamed")
    wait_file(d / f"{tag}-renamed/sub/deep.txt", "deep")
    wait_gone(d / f"{tag}-dir")

    (s / f"{tag}-moved.txt").unlink()
    wait_gone(d / f"{tag}-moved.txt")
    eventually(lambda: converged(src, dst), what="both folders equal")


def uploads_of(daemon: FastDaemon, name: str) -> list[str]:
    """The uploads of ``name`` the daemon started: a request of its own or a batch record."""
    return [line for line in list(daemon.lines) if f"op=Upload path={name} reason=" in line]


def test_burst_of_writes_is_one_upload(make_daemon, server, account):
    a, b = start_all(make_daemon("a"), make_daemon("b"))
    target = a.folder / "burst.txt"
    started = time.monotonic()
    for i in range(1000):
        with open(target, "w") as handle:
            handle.write(f"version {i}\n")
    burst = time.monotonic() - started
    wait_file(b.folder / "burst.txt", "version 999\n")
    a.wait_for("event=synced")
    uploads = uploads_of(a, "burst.txt")
    # One upload once the burst settled; a path that never settles is still sent every
    # max_latency (10 x debounce = 2 s here), so a slow machine may add one per 2 s.
    assert 1 <= len(uploads) <= 1 + int(burst / 2.0) + 1, (burst, uploads)
    assert len(uploads) < 20


def test_remote_change_on_a_base_only_server_is_polled(tmp_path):
    server = ServerProcess(tmp_path / "base-data", extra_args=["--base-only"]).start()
    try:
        key = server.create_account("bob")
        workspace = create_workspace(server, key)
        daemons = [
            FastDaemon(server, key, workspace, tmp_path / n, tmp_path / f"s-{n}")
            for n in ("x", "y")
        ]
        for d in daemons:
            d.folder.mkdir()
        x, y = start_all(*daemons)
        write(x.folder / "polled.txt", "from x")
        wait_file(y.folder / "polled.txt", "from x")
        assert "mode=poll" in y.wait_for("event=remote")
        assert remote_tree(server, key, workspace) == x.tree()
        for d in daemons:
            assert d.stop() == 0
    finally:
        server.stop()


def test_an_idle_daemon_polling_a_base_only_server_stays_idle(tmp_path):
    """A listing that finds nothing is no "syncing": not in the status, not in the log."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(ServerProcess(tmp_path / "base-data", ["--base-only"]))
        key = server.create_account("carol")
        workspace = create_workspace(server, key)
        folder = tmp_path / "z"
        folder.mkdir()
        env = {"SYNCD_POLL_INTERVAL": "0.2", "SYNCD_LOG_LEVEL": "debug"}
        z = FastDaemon(server, key, workspace, folder, tmp_path / "s-z", env)
        stack.callback(z.stop)  # also when an assertion fails: no daemon outlives the test
        start_all(z)
        ready = len(z.lines)

        def polls() -> int:
            return sum("nothing to do" in line for line in z.lines[ready:])

        eventually(lambda: polls() >= 5, what="five idle poll passes")
        assert not [ln for ln in z.lines[ready:] if "event=state" in ln]
        with server.client(key) as http:
            http.put(
                f"/api/v1/workspaces/{workspace}/files/new.txt", content=b"n"
            ).raise_for_status()
        wait_file(folder / "new.txt", "n")
        z.wait_for("event=state state=syncing")  # a poll that finds work says so
        assert z.stop() == 0
