"""One writer per folder: the flock refuses a second holder, names it, and dies with it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from syncd.daemon.lock import FolderLock, check_free, folder_lock, lock_path_for
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
            f"lock = FolderLock({str(path)!r}, 'syncd run'); lock.acquire(); "
            "print('held', flush=True); "
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
        assert f"pid {holder.pid} (syncd run) since 20" in str(caught.value)
        assert "already syncs this folder" in str(caught.value)
        with pytest.raises(UsageError, match=f"pid {holder.pid} "):
            check_free(path)  # what a dry run asks
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


def test_a_dry_run_checks_the_lock_and_creates_nothing(tmp_path):
    db = tmp_path / "state" / "x.sqlite3"
    with folder_lock(db, "syncd sync", dry_run=True):
        assert not (tmp_path / "state").exists()
    with folder_lock(db, "syncd sync"):
        assert lock_path_for(db).is_file()
        with pytest.raises(UsageError, match="syncd sync"), folder_lock(db, "x", dry_run=True):
            pass
    before = lock_path_for(db).stat()
    with folder_lock(db, "syncd sync", dry_run=True):  # free again: the check passes
        pass
    assert lock_path_for(db).stat().st_mtime_ns == before.st_mtime_ns


def test_an_older_holder_line_still_names_its_pid(tmp_path):
    path = tmp_path / "old.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; "
            f"fd = os.open({str(path)!r}, os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'%d\\n' % os.getpid()); "
            "print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match=f"pid {holder.pid}$"):
            FolderLock(path).acquire()
    finally:
        holder.kill()
        holder.wait(10)
