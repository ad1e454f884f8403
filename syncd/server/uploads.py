"""Upload sessions (E3): persisted in the database, bytes in ``uploads/<id>``.

1. A session survives a restart: its row holds the offset that is durably on disk; bytes
   past it (a chunk cut short by a crash) are truncated away by the next chunk.
2. Nothing is visible in the workspace until ``commit``, which checks size and hash and
   publishes through ``entries.put_file`` in one transaction.
3. Expired sessions answer ``NotFound`` and are removed with their files.
4. ``RunningHashes`` keeps the sha256 of each session's bytes as its chunks arrive, so a
   commit needs no second pass over the file; a server that restarted, or a session whose
   hash was dropped, is hashed from the file at commit as before.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from syncd.server.schema import uploads
from syncd.server.service.errors import InvalidParameter, NotFound, OffsetMismatch
from syncd.server.timefmt import later_iso, now_iso

HASH_RE = re.compile(r"^sha256:([0-9a-f]{64})$")
ORPHAN_AGE = 3600.0  # seconds an upload file without a session row is left alone


def parse_hash(value: object) -> str | None:
    """``"sha256:<hex>"`` -> hex; None stays None; anything else is invalid_parameter."""
    if value is None:
        return None
    match = HASH_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidParameter('hash must be "sha256:<64 lowercase hex digits>"')
    return match.group(1)


def create(
    conn: Connection, workspace_id: str, path: str, size: int, digest: str | None, ttl: float
) -> Row:
    upload_id = secrets.token_urlsafe(18)
    conn.execute(
        insert(uploads).values(
            id=upload_id,
            workspace_id=workspace_id,
            path=path,
            size=size,
            hash=digest,
            offset=0,
            create_time=now_iso(),
            expires_time=later_iso(ttl),
        )
    )
    return get(conn, workspace_id, upload_id)


def get(conn: Connection, workspace_id: str, upload_id: str) -> Row:
    """A live session of this workspace, or ``NotFound`` (also once it expired)."""
    row = conn.execute(
        select(uploads).where(uploads.c.id == upload_id, uploads.c.workspace_id == workspace_id)
    ).first()
    if row is None or row.expires_time <= now_iso():
        raise NotFound(f"no upload {upload_id!r}")
    return row


def check_offset(row: Row, offset: int) -> None:
    if offset != row.offset:
        raise OffsetMismatch(f"the upload is at offset {row.offset}", offset=row.offset)


def advance(conn: Connection, workspace_id: str, upload_id: str, old: int, new: int) -> None:
    """Record bytes that are fsynced; refuses if another chunk moved the offset meanwhile."""
    row = get(conn, workspace_id, upload_id)
    check_offset(row, old)
    conn.execute(update(uploads).where(uploads.c.id == upload_id).values(offset=new))


def remove(conn: Connection, upload_id: str) -> None:
    conn.execute(delete(uploads).where(uploads.c.id == upload_id))


def expired(conn: Connection) -> list[str]:
    """Delete expired sessions; return their ids so the caller removes their files."""
    ids = [
        row.id
        for row in conn.execute(select(uploads.c.id).where(uploads.c.expires_time <= now_iso()))
    ]
    if ids:
        conn.execute(delete(uploads).where(uploads.c.id.in_(ids)))
    return ids


def orphan_files(conn: Connection, folder: Path, min_age: float = ORPHAN_AGE) -> list[Path]:
    """Files in ``uploads/`` with no session row (expired while no server ran, or aborted).

    Only those unchanged for ``min_age`` seconds: another server process may have made a
    session's file a moment ago, in a transaction this one cannot see yet.
    """
    cutoff = time.time() - min_age
    known = {row.id for row in conn.execute(select(uploads.c.id))}
    return [item for item in folder.iterdir() if item.name not in known and _changed(item) < cutoff]


def _changed(path: Path) -> float:
    try:
        return path.stat().st_ctime
    except OSError:
        return float("inf")  # gone already


def session_json(row: Row, chunk_size: int) -> dict[str, object]:
    return {
        "upload_id": row.id,
        "offset": row.offset,
        "chunk_size": chunk_size,
        "expires_time": row.expires_time,
    }


class RunningHashes:
    """PROMISE 4: the sha256 of bytes [0, offset) of each session, in memory only."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit  # sessions beyond it lose their running hash (oldest first)
        self._by_id: OrderedDict[str, tuple[int, Any]] = OrderedDict()

    def resume(self, upload_id: str, offset: int) -> Any | None:
        """A hasher holding bytes [0, offset) to feed the next chunk, or None if unknown.

        A copy: a chunk that fails leaves the kept hash at the session's durable offset.
        """
        if offset == 0:
            return hashlib.sha256()
        kept = self._by_id.get(upload_id)
        return kept[1].copy() if kept is not None and kept[0] == offset else None

    def keep(self, upload_id: str, offset: int, hasher: Any | None) -> None:
        """Record the hash once bytes [0, offset) are durable; None forgets the session."""
        if hasher is None:
            self.forget(upload_id)
            return
        self._by_id[upload_id] = (offset, hasher)
        self._by_id.move_to_end(upload_id)
        while len(self._by_id) > self.limit:
            self._by_id.popitem(last=False)

    def digest(self, upload_id: str, size: int) -> str | None:
        """The hex digest of a session holding exactly ``size`` bytes, or None if unknown."""
        kept = self._by_id.get(upload_id)
        return kept[1].hexdigest() if kept is not None and kept[0] == size else None

    def forget(self, upload_id: str) -> None:
        self._by_id.pop(upload_id, None)
