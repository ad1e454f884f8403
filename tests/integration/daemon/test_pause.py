"""``syncd pause`` / ``syncd resume`` on a running daemon, through the state directory."""

from __future__ import annotations

import json
import re
import subprocess

from tests.integration.daemon.daemons import FastDaemon, eventually, start_all, write
from tests.support.clients import remote_tree

PROTOCOLS = ("full", "base-only")  # each test runs on both servers


def remote(daemon: FastDaemon) -> dict[str, str]:
    return remote_tree(daemon.server, daemon.api_key, daemon.workspace)


def cli(daemon: FastDaemon, *args: str) -> subprocess.CompletedProcess[str]:
    """``syncd ARGS`` on the daemon's folder with the common options, as the user runs it."""
    name, *rest = args
    return subprocess.run(
        daemon.command(name, *rest), capture_output=True, text=True, env=daemon.env(), timeout=60
    )


def status(daemon: FastDaemon) -> dict:
    answer = daemon.status()
    assert answer.returncode == 0, answer.stderr
    return json.loads(answer.stdout)


def test_changes_made_while_paused_go_up_after_resume_without_a_rescan(make_daemon):
    (a,) = start_all(make_daemon("a"))
    write(a.folder / "before.txt", "synced before the pause")
    eventually(lambda: "before.txt" in remote(a), what="before.txt uploaded")

    paused = cli(a, "pause")
    assert paused.returncode == 0, paused.stderr
    assert "paused by you (until you resume)" in paused.stdout
    a.wait_for("event=paused_by_user")
    write(a.folder / "during.txt", "written while paused")
    # The watcher still records the change: it waits as a dirty path, and nothing goes up.
    eventually(lambda: "during.txt" in status(a)["dirty"], what="during.txt recorded dirty")
    info = status(a)
    assert info["state"] == "paused"
    assert info["detail"] == "paused by you (until you resume)"
    assert info["paused"]["until"] is None
    assert "during.txt" not in remote(a)
    plain = cli(a, "status")
    assert "paused by you" in plain.stdout

    synced_before = sum("event=synced" in line for line in a.lines)
    resumed = cli(a, "resume")
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "resumed")
    eventually(lambda: "during.txt" in remote(a), what="during.txt uploaded after resume")

    def passes_after() -> list[str]:
        return [line for line in list(a.lines) if "event=synced" in line][synced_before:]

    eventually(passes_after, what="the pass after resume is logged")
    if "--base-only" in a.server.extra_args:
        # Without a feed every poll is a listing of the whole tree: the first pass after
        # the pause is that poll, and it finds the change the watcher kept.
        assert "uploaded=1" in passes_after()[0], passes_after()
    else:
        assert all("pass=scoped" in line for line in passes_after()), passes_after()
    eventually(a.is_quiet, what="idle again after resume")
    assert cli(a, "resume").stdout.strip() == "not paused"


def test_a_pause_outlives_a_restart_and_a_timed_one_ends_by_itself(make_daemon):
    (a,) = start_all(make_daemon("a"))
    assert cli(a, "pause", "--for", "1h").returncode == 0
    a.wait_for("event=paused_by_user")
    a.stop()
    write(a.folder / "offline-edit.txt", "written while no daemon ran")
    a.start(wait_ready=False)
    a.wait_for("event=paused_by_user")
    eventually(lambda: status(a)["state"] == "paused", what="the restarted daemon is paused")
    assert status(a)["detail"].startswith("paused by you (until ")
    assert "offline-edit.txt" not in remote(a)

    assert cli(a, "pause", "--for", "1s").returncode == 0  # replaces the hour
    a.wait_for("event=resumed", timeout=20)
    eventually(lambda: "offline-edit.txt" in remote(a), what="uploaded once the pause ran out")


def test_pause_refuses_a_bad_duration_with_one_line(make_daemon):
    (a,) = start_all(make_daemon("a"))
    answer = cli(a, "pause", "--for", "soon")
    assert answer.returncode == 2
    assert answer.stderr.strip().count("\n") == 0 and "not a duration" in answer.stderr
    assert "Traceback" not in answer.stderr


def test_status_shows_the_last_changes_in_local_time(make_daemon):
    (a,) = start_all(make_daemon("a"))
    write(a.folder / "up.txt", "goes up")
    eventually(lambda: "up.txt" in remote(a), what="up.txt uploaded")
    eventually(a.is_quiet, what="settled")
    info = status(a)
    assert {"what": "uploaded", "path": "up.txt"}.items() <= info["recent_changes"][0].items()
    assert info["last_change"]["result"]["uploaded"] == 1
    (a.folder / "up.txt").unlink()
    eventually(lambda: "up.txt" not in remote(a), what="the delete went up")
    eventually(
        lambda: status(a)["recent_changes"][0]["what"] == "deleted on the server",
        what="the delete is the newest change",
    )
    plain = cli(a, "status")
    assert plain.returncode == 0, plain.stderr
    assert "deleted on the server: up.txt" in plain.stdout
    assert "uploaded: up.txt" in plain.stdout
    assert re.search(r"\d\d:\d\d:\d\d \(\d+ (s|min|h) ago\)", plain.stdout), plain.stdout
    assert "last change" in plain.stdout
