"""A state database put back to the layout of schema version 1, to test its migration."""

from __future__ import annotations

import sqlite3


def downgrade_to_v1(conn: sqlite3.Connection) -> None:
    """Drop what versions 2 and 3 added (the triggers, ``changed_paths``, ``scan_folders``) and give
    ``scan_rows`` its old columns; the caller sets the version and commits."""
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE changed_paths")
    conn.execute("DROP TABLE IF EXISTS scan_folders")
    conn.execute("DROP TABLE scan_rows")
    conn.execute(
        "CREATE TABLE scan_rows (path TEXT NOT NULL, kind TEXT NOT NULL, size INTEGER, "
        "mtime_ns INTEGER, inode INTEGER, PRIMARY KEY (path))"
    )
