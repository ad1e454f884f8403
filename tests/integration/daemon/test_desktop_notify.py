"""Desktop notices of the daemon, shown by a fake ``notify-send`` that records its argv."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.integration.daemon.daemons import FastDaemon, eventually, start_all, write
from tests.support.clients import SyncClient, remote_tree

PROTOCOLS = ("full", "base-only")  # each test runs on both servers

FAKE = """#!/bin/sh
for arg in "$@"; do printf '%s\\n' "$arg"; done >> "$NOTICE_LOG"
echo --- >> "$NOTICE_LOG"
"""


def fake_notify_send(tmp_path: Path) -> dict[str, str]:
    """The environment of a daemon whose PATH holds the recording ``notify-send``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "notify-send"
    program.write_text(FAKE)
    program.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent-test-bus",
        "NOTICE_LOG": str(tmp_path / "notices.txt"),
    }


def make_conflict(a: FastDaemon, tmp_path: Path) -> None:
    """Pause ``a``, change f.txt on both sides, resume: the daemon meets a conflict."""
    write(a.folder / "f.txt", "first")
    remote = lambda: remote_tree(a.server, a.api_key, a.workspace)  # noqa: E731
    eventually(lambda: "f.txt" in remote(), what="f.txt uploaded")
    pause = subprocess.run(a.command("pause"), env=a.env(), capture_output=True, timeout=60)
    assert pause.returncode == 0, pause.stderr
    a.wait_for("event=paused_by_user")
    write(a.folder / "f.txt", "mine")
    other = SyncClient(a.server, a.api_key, a.workspace, tmp_path / "b", tmp_path / "state-b")
    other.folder.mkdir()
    other.sync()
    write(other.folder / "f.txt", "theirs")
    other.sync()
    resume = subprocess.run(a.command("resume"), env=a.env(), capture_output=True, timeout=60)
    assert resume.returncode == 0, resume.stderr


def test_a_conflict_is_shown_on_the_desktop_and_logged(make_daemon, tmp_path):
    env = fake_notify_send(tmp_path)
    (a,) = start_all(make_daemon("a", **env))
    make_conflict(a, tmp_path)
    notices = Path(env["NOTICE_LOG"])
    eventually(lambda: notices.exists() and "conflict" in notices.read_text(), what="a notice")
    argv = notices.read_text().split("---\n")[0].splitlines()
    assert argv[:4] == ["--app-name", "syncd", "--urgency", "normal"]
    assert argv[4] == "syncd: 1 conflict" and "f (conflicted copy" in argv[5]
    a.wait_for("event=notice kind=conflict")


def test_notifications_false_shows_nothing_but_still_logs(make_daemon, tmp_path):
    env = fake_notify_send(tmp_path)
    (a,) = start_all(make_daemon("a", SYNCD_NOTIFICATIONS="false", **env))
    make_conflict(a, tmp_path)
    a.wait_for("event=notice kind=conflict")
    assert not Path(env["NOTICE_LOG"]).exists()
