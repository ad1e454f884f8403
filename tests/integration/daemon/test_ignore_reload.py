"""A running daemon follows changes to ``.syncdignore``: excluded paths stop syncing at the
next pass, and paths that are no longer excluded are synced, on both sides."""

from __future__ import annotations

from pathlib import Path

from syncd.state.store import Store
from tests.integration.daemon.daemons import FastDaemon, eventually, start_all, write
from tests.support.clients import remote_tree


def put_remote(daemon: FastDaemon, path: str, data: str) -> None:
    """Another device writes ``path`` on the server."""
    with daemon.server.client(daemon.api_key) as http:
        answer = http.put(f"/api/v1/workspaces/{daemon.workspace}/files/{path}", content=data)
        answer.raise_for_status()


def remote(daemon: FastDaemon) -> dict[str, str]:
    return remote_tree(daemon.server, daemon.api_key, daemon.workspace)


def is_idle(daemon: FastDaemon) -> bool:
    """Published state idle, nothing dirty: every pass asked for so far has run."""
    (db,) = daemon.state_dir.glob("*.sqlite3")
    with Store.open(db, create=False) as store:
        status = store.daemon_status.read()
        return status is not None and status.state.value == "idle" and not store.dirty.rows()


def exists(path: Path) -> bool:
    return path.is_file()


def test_syncdignore_changes_take_effect_at_the_next_pass(make_daemon):
    (a,) = start_all(make_daemon("a"))
    write(a.folder / ".syncdignore", "docs/\n")
    eventually(lambda: ".syncdignore" in remote(a), what="the new rules were synced")
    write(a.folder / "docs/local.txt", "written while docs/ is excluded")
    put_remote(a, "docs/new.txt", "written elsewhere while docs/ is excluded")
    put_remote(a, "after.txt", "a change after docs/new.txt on the feed")
    eventually(lambda: exists(a.folder / "after.txt") and is_idle(a), what="after.txt synced")
    assert not (a.folder / "docs/new.txt").exists()
    assert "docs/local.txt" not in remote(a)
    assert "event=ignore_reloaded" in "\n".join(a.lines)

    write(a.folder / ".syncdignore", "# nothing excluded any more\n")
    eventually(lambda: exists(a.folder / "docs/new.txt"), what="docs/new.txt downloaded")
    eventually(lambda: "docs/local.txt" in remote(a), what="docs/local.txt uploaded")
    assert (a.folder / "docs/new.txt").read_text() == "written elsewhere while docs/ is excluded"
    assert a.proc is not None and a.proc.poll() is None


def test_a_syncdignore_from_the_server_is_followed_too(make_daemon):
    (a,) = start_all(make_daemon("a"))
    put_remote(a, ".syncdignore", "*.log\n")
    eventually(lambda: exists(a.folder / ".syncdignore") and is_idle(a), what="rules arrived")
    put_remote(a, "build.log", "excluded by rules that came from another device")
    put_remote(a, "after.txt", "a later change")
    eventually(lambda: exists(a.folder / "after.txt") and is_idle(a), what="after.txt synced")
    assert not (a.folder / "build.log").exists()
