"""Schema versions: a data directory of the pre-migration layout is adopted in place, and a
schema of another version is refused with one line and exit 2 until ``admin migrate``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from syncd.server.migrate import head
from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import listing, put

LEGACY_SCHEMA = Path(__file__).with_name("fixtures") / "legacy_schema.sql"


def admin(data: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNCD_DATABASE_URL": url} if url else None
    return subprocess.run(
        [sys.executable, "-m", "syncd", "admin", "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def legacy_data_dir(data: Path) -> None:
    """A data directory as syncd made it before migrations: the frozen DDL and one file."""
    data.mkdir(mode=0o700)
    with sqlite3.connect(data / "syncd.db") as db:
        db.executescript(LEGACY_SCHEMA.read_text())
        db.executescript(
            """
            INSERT INTO accounts VALUES ('a-old', 'old', '2025-01-01T00:00:00.000000+00:00',
                NULL, 0, NULL);
            INSERT INTO workspaces VALUES ('w-old', 'a-old', 'Old',
                '2025-01-01T00:00:00.000000+00:00', '2025-01-01T00:00:00.000000+00:00', 0, 0,
                NULL);
            """
        )


def test_a_pre_migration_data_directory_is_upgraded_in_place_and_serves(tmp_path: Path) -> None:
    data = tmp_path / "data"
    legacy_data_dir(data)
    out = admin(data, "create-key", "old")
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    with sqlite3.connect(data / "syncd.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(head(),)]
    with ServerProcess(data) as server, server.client(key) as http:
        assert put(http, "w-old", "kept", b"1").status_code == 204
        assert set(listing(http, "w-old")) == {"kept"}
    assert admin(data, "migrate").stdout.strip() == f"schema is current ({head()})"


def test_a_schema_of_another_version_is_refused_until_migrated(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert admin(data, "create-account", "someone").returncode == 0
    with sqlite3.connect(data / "syncd.db") as db:
        db.execute("UPDATE alembic_version SET version_num = 'ffff'")
    refused = admin(data, "create-account", "other")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "newer than this syncd" in refused.stderr
    serve = subprocess.run(
        [sys.executable, "-m", "syncd", "serve", "--data-dir", str(data), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert serve.returncode == 2 and "newer than this syncd" in serve.stderr
    with sqlite3.connect(data / "syncd.db") as db:  # as if a release older than ours left it
        db.execute("DELETE FROM alembic_version")
        db.execute("INSERT INTO alembic_version VALUES ('0001')")
    assert admin(data, "create-account", "third").returncode == 0
