"""One writer per folder: ``sync`` and ``run`` take the same lock; the second one exits 2.

The message names the holder (pid, command, since when); ``status`` needs no lock.
"""

from __future__ import annotations

import json
import subprocess

from tests.integration.daemon.daemons import FastDaemon, eventually, start_all, write
from tests.integration.daemon.test_lifecycle import BIG, SLOW_UPLOAD, big_payload, status_of
from tests.support.clients import remote_tree


def run(daemon: FastDaemon, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        daemon.command(*args),
        capture_output=True,
        text=True,
        env={**daemon.env(), **env},
        timeout=120,
    )


def lock_holder(daemon: FastDaemon) -> dict | None:
    """The holder line of the folder's lock file, once one is written."""
    for path in daemon.state_dir.glob("*.lock"):
        text = path.read_text().strip()
        if text:
            return json.loads(text)
    return None


def test_a_sync_while_the_daemon_runs_is_refused_naming_the_daemon(make_daemon):
    (a,) = start_all(make_daemon("a"))
    assert a.proc is not None
    write(a.folder / "while-daemon.txt", "the daemon syncs this, not the one-shot")
    for args in (("sync",), ("sync", "--dry-run"), ("run", "--dry-run")):
        proc = run(a, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert f"pid {a.proc.pid} (syncd run) since " in proc.stderr, (args, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # one clear line
    assert status_of(a)["daemon"]["pid"] == a.proc.pid  # status reads without the lock
    eventually(
        lambda: "while-daemon.txt" in remote_tree(a.server, a.api_key, a.workspace),
        what="the daemon still works",
    )
    assert a.stop() == 0
    assert run(a, "sync").returncode == 0  # released with the daemon


def test_two_syncs_at_once_the_second_is_refused(make_daemon):
    a = make_daemon("a")  # its folder and state; no daemon is started
    write(a.folder / "big.bin", big_payload("two syncs"))
    first = subprocess.Popen(
        a.command("sync"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**a.env(), **SLOW_UPLOAD},  # 3 MiB at 1 MiB/s: it holds the lock for seconds
    )
    try:
        holder = eventually(lambda: lock_holder(a), what="the first sync holds the lock")
        assert holder["pid"] == first.pid and holder["command"] == "syncd sync"
        second = run(a, "sync")
        assert second.returncode == 2, second.stderr
        assert f"pid {first.pid} (syncd sync) since {holder['since']}" in second.stderr
        assert first.wait(120) == 0, first.communicate()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    assert lock_holder(a) is None  # a clean exit leaves no holder line behind
    assert remote_tree(a.server, a.api_key, a.workspace).keys() == {"big.bin"}
    assert (a.folder / "big.bin").stat().st_size == BIG
    assert run(a, "sync").returncode == 0
