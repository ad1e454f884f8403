"""One daemon per folder: the flock refuses a second holder and dies with its process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from syncd.daemon.lock import FolderLock, lock_path_for
from syncd.errors import UsageError


def test_lock_path_sits_next_to_the_database(tmp_path):
    db = tmp_path / "state" / "host_ws_dir-abc.sqlite3"
    assert lock_path_for(db) == tmp_path / "state" / "host_ws_dir-abc.lock"


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    path = tmp_path / "x.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from syncd.daemon.lock import FolderLock; "
            f"lock = FolderLock({str(path)!r}); lock.acquire(); print('held', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError) as caught:
            FolderLock(path).acquire()
        assert caught.value.exit_code == 2
        assert f"pid {holder.pid}" in str(caught.value)
        assert "already syncs this folder" in str(caught.value)
    finally:
        holder.kill()  # a killed holder leaves no stale lock behind
        holder.wait(10)
    with FolderLock(path) as lock:
        assert lock.is_held
    assert not lock.is_held


def test_release_then_acquire_again_in_one_process(tmp_path):
    lock = FolderLock(tmp_path / "deep" / "y.lock")
    lock.acquire()
    lock.release()
    lock.release()  # idempotent
    lock.acquire()
    assert lock.is_held
    lock.release()
