"""Past the inotify watch limit the daemon says so once and scans what it cannot watch.

The limit is real: the daemon runs in a user namespace of its own (``unshare --user``)
whose ``/proc/sys/user/max_inotify_watches`` is lowered, so the kernel itself answers
ENOSPC to the watches past it, and nothing outside that namespace is touched.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from syncd.soak.harness import ServerProcess
from tests.integration.daemon.daemons import FAST_ENV, FastDaemon, eventually, write

WATCHES = 4  # the root and three folders; the tree has more
FOLDERS = [f"f{i:02d}/sub" for i in range(12)]


def can_limit_watches() -> bool:
    """Whether this machine lets us lower the watch limit inside a user namespace."""
    if shutil.which("unshare") is None:
        return False
    probe = ["unshare", "--user", "--map-root-user", "sh", "-c", LOWER + " && true", "sh", "1"]
    return subprocess.run(probe, capture_output=True).returncode == 0


LOWER = 'echo "$1" > /proc/sys/user/max_inotify_watches'

pytestmark = pytest.mark.skipif(
    not can_limit_watches(), reason="needs unshare --user and a writable max_inotify_watches"
)


@dataclass
class LimitedDaemon(FastDaemon):
    """``syncd run`` in a user namespace that allows ``WATCHES`` inotify watches."""

    ENV: ClassVar[dict[str, str]] = {**FAST_ENV, "SYNCD_POLL_INTERVAL": "0.5"}

    def command(self, name: str, *args: str) -> list[str]:
        argv = super().command(name, *args)
        if name != "run":
            return argv
        shell = LOWER + ' && shift && exec "$@"'
        return [
            "unshare",
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            shell,
            "sh",
            str(WATCHES),
            *argv,
        ]


def server_paths(server: ServerProcess, key: str, workspace: str) -> set[str]:
    with server.client(key) as http:
        answer = http.get(f"/api/v1/workspaces/{workspace}/files")
        answer.raise_for_status()
        return {e["path"] for e in answer.json()["entries"] if e.get("type", "file") == "file"}


def test_unwatched_folders_are_told_once_shown_and_still_synced(
    tmp_path: Path,
    server: ServerProcess,
    account: tuple[str, str],
    make_daemon: Callable[..., FastDaemon],
) -> None:
    key, workspace = account
    made = make_daemon("a")
    daemon = LimitedDaemon(made.server, key, workspace, made.folder, made.state_dir, {})
    for rel in FOLDERS:
        (daemon.folder / rel).mkdir(parents=True)
    try:
        daemon.start()
        status = json.loads(daemon.status().stdout)
        assert status["watch"]["unwatched_folders"] >= len(FOLDERS) * 2 + 1 - WATCHES
        assert "max_user_watches" in status["watch"]["limit"]

        # A change in every folder: the watched ones are heard, the others are scanned.
        wanted = {f"{rel}/new.txt" for rel in FOLDERS}
        for rel in wanted:
            write(daemon.folder / rel, rel)
        write(daemon.folder / "late/deeper/new.txt", "a folder made after the start")
        wanted.add("late/deeper/new.txt")
        eventually(
            lambda: wanted <= server_paths(server, key, workspace),
            timeout=30,
            what="every change, watched or not, on the server",
        )
        text = subprocess.run(
            daemon.command("status"), capture_output=True, text=True, env=daemon.env(), timeout=60
        ).stdout
        assert "not watched" in text and "sudo sysctl fs.inotify.max_user_watches" in text
    finally:
        daemon.stop(timeout=30)
    told = [line for line in daemon.lines if "event=watch_limit" in line]
    assert len(told) == 1, told
    assert "sudo sysctl fs.inotify.max_user_watches=" in told[0]
    assert not any("Traceback" in line for line in daemon.lines)
