"""The facts about the whole database, kept in the ``meta`` table: which (server,
workspace, folder) it serves, the feed cursor, whether the next sync merges, the server's
capabilities and the last sync's result. Reached as ``store.meta``.

1. Facts that must agree are written in one commit (``set_many``): a reset forgets the
   cursor and marks the merge together, so a crash never leaves one without the other.
2. ``bind`` is the lineage check: a database names its triple on first use and refuses
   any other afterwards, so one folder's base is never applied to another.
3. Writes join the caller's ``store.transaction()``, as the records' do.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.errors import UsageError
from syncd.paths import is_within
from syncd.state import schema as s
from syncd.state.paths import canonical_folder, canonical_server
from syncd.state.schema import MetaKey, now_iso
from syncd.state.sql import Connection

if TYPE_CHECKING:
    from syncd.state.store import Store


def read_meta(conn: Connection, key: str) -> str | None:
    """One meta value on ``conn`` (for the store's own checks and a consistent snapshot)."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def write_meta(conn: Connection, values: Mapping[str, str | None]) -> None:
    """Upsert meta values on ``conn``, inside the caller's transaction."""
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [(str(k), v) for k, v in values.items()],
    )


class Meta:
    """The ``meta`` table of one store: raw values, and the typed facts built on them."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # -- values ------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        with self._store.read() as conn:
            return read_meta(conn, key)

    def set(self, key: str, value: str | None) -> None:
        with self._store.transaction() as conn:
            write_meta(conn, {key: value})

    def set_many(self, values: Mapping[str, str | None]) -> None:
        """Several values in one commit, so they never disagree after a crash."""
        with self._store.transaction() as conn:
            write_meta(conn, values)

    def get_json(self, key: str) -> Any:
        raw = self.get(key)
        return None if raw is None else json.loads(raw)

    def set_json(self, key: str, value: Any) -> None:
        self.set(key, None if value is None else json.dumps(value, sort_keys=True))

    # -- lineage -----------------------------------------------------------------------

    def bind(self, server: str, workspace_id: str, folder: Path | str) -> None:
        """Record which triple this database serves on first use (and mark the first
        sync a merge); afterwards refuse a database that belongs to another triple."""
        wanted = s.Lineage(canonical_server(server), workspace_id, str(canonical_folder(folder)))
        with self._store.transaction() as conn:
            known = _lineage(conn)
            if known is None:
                write_meta(
                    conn,
                    {
                        MetaKey.SERVER_URL: wanted.server_url,
                        MetaKey.WORKSPACE_ID: wanted.workspace_id,
                        MetaKey.LOCAL_FOLDER: wanted.local_folder,
                        MetaKey.MERGE_PENDING: "1",
                    },
                )
            elif known != wanted:
                raise UsageError(
                    f"the state database {self._store.path} belongs to {known.server_url} "
                    f"workspace {known.workspace_id} folder {known.local_folder}",
                    hint="pass the --state-dir that belongs to this folder",
                )

    def lineage(self) -> s.Lineage | None:
        with self._store.read() as conn:
            return _lineage(conn)

    def folder_id(self) -> str | None:
        """The id of the folder's root marker; None before the first sync wrote one."""
        return self.get(MetaKey.FOLDER_ID)

    def set_folder_id(self, folder_id: str) -> None:
        self.set(MetaKey.FOLDER_ID, folder_id)

    # -- cursor and merge --------------------------------------------------------------

    def cursor(self) -> int | None:
        """The feed revision the base tree is consistent with; None: read from 0."""
        raw = self.get(MetaKey.CURSOR)
        return None if raw is None else int(raw)

    def set_cursor(self, revision: int | None) -> None:
        self.set(MetaKey.CURSOR, None if revision is None else str(revision))

    def is_merge_pending(self) -> bool:
        """True when the next sync must merge (first sync, or a reset after a 410)."""
        return self.get(MetaKey.MERGE_PENDING) == "1"

    def finish_merge(self, cursor: int | None) -> None:
        """The merge converged: store its cursor and resume three-way sync, in one commit."""
        value = None if cursor is None else str(cursor)
        self.set_many({MetaKey.CURSOR: value, MetaKey.MERGE_PENDING: None})

    # -- server and last sync ----------------------------------------------------------

    def record_sync(self, result: Mapping[str, Any], *, time: str | None = None) -> None:
        """Store when the last sync ended and its summary (counts, exit code)."""
        self.set_many(
            {
                MetaKey.LAST_SYNC_TIME: time or now_iso(),
                MetaKey.LAST_SYNC_RESULT: json.dumps(dict(result), sort_keys=True),
            }
        )

    def last_sync(self) -> s.LastSync | None:
        """When the last sync ended and its summary, read together in one snapshot."""
        with self._store.snapshot() as conn:
            time = read_meta(conn, MetaKey.LAST_SYNC_TIME)
            raw = read_meta(conn, MetaKey.LAST_SYNC_RESULT)
        if time is None:
            return None
        return s.LastSync(time, json.loads(raw) if raw else {})

    # -- paths left out by policy ------------------------------------------------------

    def skipped(self) -> dict[str, str]:
        """Paths the scan leaves out by policy (symlinks) -> why, for ``syncd status``."""
        return self.get_json(MetaKey.SKIPPED) or {}

    def note_skipped(
        self, found: Mapping[str, str], scope: Iterable[str] | None = None
    ) -> dict[str, str]:
        """Replace the skipped paths (only those under ``scope``, when given) by ``found``;
        return those not noted before, so that each is reported once, not every sync."""
        known = self.skipped()
        prefixes = None if scope is None else list(scope)
        kept = (
            {}
            if prefixes is None
            else {p: r for p, r in known.items() if not any(is_within(p, s) for s in prefixes)}
        )
        noted = {**kept, **found}
        if noted != known:
            self.set_json(MetaKey.SKIPPED, noted or None)
        return {p: r for p, r in found.items() if known.get(p) != r}


def _lineage(conn: Connection) -> s.Lineage | None:
    server = read_meta(conn, MetaKey.SERVER_URL)
    if server is None:
        return None
    workspace = read_meta(conn, MetaKey.WORKSPACE_ID) or ""
    return s.Lineage(server, workspace, read_meta(conn, MetaKey.LOCAL_FOLDER) or "")
