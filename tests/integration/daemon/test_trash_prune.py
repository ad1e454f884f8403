"""The trash is pruned by ``sync`` and by the daemon at start: retention and size cap.

Entries are made with the trash's own layout (``DAY/HHMMSS-xxxxxx/...``) and dates in the
past, so nothing waits for time to pass.
"""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from tests.integration.daemon.daemons import FastDaemon, eventually, start_all


def trash_dir(daemon: FastDaemon) -> Path:
    (db,) = daemon.state_dir.glob("*.sqlite3")
    return db.with_name(db.stem + ".trash")


def put_entry(trash: Path, age: timedelta, name: str, size: int) -> Path:
    when = datetime.now() - age
    entry = trash / when.strftime("%Y-%m-%d") / f"{when.strftime('%H%M%S')}-abc123"
    entry.mkdir(parents=True)
    (entry / name).write_bytes(b"x" * size)
    return entry


def sync(daemon: FastDaemon, *args: str) -> None:
    proc = subprocess.run(
        daemon.command("sync", *args), capture_output=True, text=True, env=daemon.env()
    )
    assert proc.returncode == 0, proc.stderr


def test_sync_prunes_by_age_then_by_size_but_keeps_a_recent_loss(make_daemon):
    a = make_daemon("a")
    sync(a)
    trash = trash_dir(a)
    old = put_entry(trash, timedelta(days=40), "old.txt", 10)
    mid = put_entry(trash, timedelta(days=3), "mid.txt", 100)
    recent = put_entry(trash, timedelta(hours=1), "recent-loss.bin", 1000)
    sync(a, "--trash-max-size", "500")
    assert not old.exists()  # older than 30 days
    assert not mid.exists()  # over the cap, and older than a day
    assert (recent / "recent-loss.bin").stat().st_size == 1000  # over the cap, but recent
    sync(a, "--dry-run", "--trash-retention-days", "1", "--trash-max-size", "1")
    assert recent.exists()  # a dry run prunes nothing


def test_the_daemon_prunes_at_start(make_daemon):
    a = make_daemon("a", SYNCD_TRASH_RETENTION_DAYS="10")
    sync(a)
    trash = trash_dir(a)
    old = put_entry(trash, timedelta(days=11), "old.txt", 10)
    young = put_entry(trash, timedelta(days=9), "young.txt", 10)
    start_all(a)
    eventually(lambda: not old.exists(), what="the daemon pruned the old entry")
    assert (young / "young.txt").exists()
