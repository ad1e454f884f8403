"""``syncd exclude`` beside a running daemon, on the full and the base-only server: the
rule takes effect without a restart, never deletes on the server, and including again
downloads."""

from __future__ import annotations

import json
import subprocess

from tests.integration.daemon.daemons import FastDaemon, eventually, start_all, write
from tests.support.clients import SyncClient, remote_tree

PROTOCOLS = ("full", "base-only")


def remote(daemon: FastDaemon) -> dict[str, str]:
    return remote_tree(daemon.server, daemon.api_key, daemon.workspace)


def exclude(daemon: FastDaemon, *args: str) -> str:
    proc = subprocess.run(
        daemon.command("exclude", *args),
        capture_output=True,
        text=True,
        env=daemon.env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_running_daemon_follows_exclude_add_and_remove(make_daemon, tmp_path):
    (b,) = start_all(make_daemon("b"))
    other = SyncClient(b.server, b.api_key, b.workspace, tmp_path / "a", tmp_path / "state-a")
    other.folder.mkdir()
    write(other.folder / "big/one.bin", "1" * 100)
    write(other.folder / "keep.txt", "keep")
    other.sync()
    eventually(lambda: set(b.tree()) == {"big/one.bin", "keep.txt"}, what="b has both")
    everything = remote(b)

    exclude(b, "add", "big")
    b.wait_for("event=excludes_changed added=big")
    eventually(lambda: set(b.tree()) == {"keep.txt"}, what="big moved to the trash")
    assert remote(b) == everything  # nothing deleted on the server
    b.wait_for("op=TrashLocal path=big reason=EXCLUDED")

    write(other.folder / "big/two.bin", "2")  # new on the server: not downloaded here
    other.sync()
    write(b.folder / "big/mine.txt", "local only")  # new here: not uploaded
    write(b.folder / "later.txt", "a change after it, to prove the pass ran")
    eventually(lambda: "later.txt" in remote(b), what="later.txt uploaded")
    eventually(b.is_quiet, what="b idle")
    assert set(b.tree()) == {"keep.txt", "later.txt", "big/mine.txt"}
    assert "big/mine.txt" not in remote(b)
    skipped = json.loads(b.status().stdout)["skipped"]
    assert {"path": "big/mine.txt", "reason": "excluded on this device"} in skipped

    exclude(b, "remove", "big")
    eventually(
        lambda: {"big/one.bin", "big/two.bin", "big/mine.txt"} <= set(b.tree()),
        what="big downloaded again",
    )
    eventually(lambda: "big/mine.txt" in remote(b), what="the local file goes up now")
