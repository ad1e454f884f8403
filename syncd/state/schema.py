"""The tables of the client's state database, and the values read back from them.

1. One database holds the state of exactly one (server, workspace, local folder) triple;
   the ``meta`` table names that lineage so a database is never applied to another.
2. Paths are NFC workspace paths (``syncd.paths.normalize``) compared byte-wise (SQLite
   BINARY collation), so ``a/`` prefixes select a subtree exactly and case never folds.
3. Times are ISO 8601 UTC strings with ``+00:00``, the spelling the protocol uses.
4. Only the ``Store`` and the classes that hang off it read or write these tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

SCHEMA_VERSION = 1
"""Bumped on every change of a table; a database with a higher number is refused."""


def now_iso() -> str:
    """The current time as the protocol writes it (promise 3)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True, comment="one fact per key; see MetaKey"),
    Column("value", Text, nullable=True, comment="text or JSON; NULL means unset"),
    comment="Small facts about the whole database: schema version, lineage, cursor.",
)


class MetaKey(StrEnum):
    """The keys of ``meta`` and what each value guarantees."""

    SCHEMA_VERSION = "schema_version"  # int: the layout these tables follow
    SERVER_URL = "server_url"  # canonical server URL, no credentials
    WORKSPACE_ID = "workspace_id"  # the workspace this base tree was agreed with
    LOCAL_FOLDER = "local_folder"  # absolute path of the synced folder
    FOLDER_ID = "folder_id"  # the id written into the folder's root marker
    CURSOR = "cursor"  # int: feed revision every base row is consistent with
    MERGE_PENDING = "merge_pending"  # "1": next sync is a merge (first sync or reset)
    CAPABILITIES = "capabilities"  # JSON: the last /capabilities answer (null: base-only)
    LAST_SYNC_TIME = "last_sync_time"  # when the last sync finished
    LAST_SYNC_RESULT = "last_sync_result"  # JSON summary of the last sync
    SKIPPED = "skipped"  # JSON {path: reason}: what the last scans left out by policy


base = Table(
    "base",
    metadata,
    Column("path", Text, primary_key=True, comment="NFC workspace path"),
    Column(
        "kind",
        Text,
        CheckConstraint("kind IN ('file', 'directory')"),
        nullable=False,
        comment="what both sides held",
    ),
    Column("size", Integer, comment="bytes of the agreed file; NULL for a directory"),
    Column("hash", Text, comment="'sha256:<hex>' of the agreed content; NULL if unknown"),
    Column("local_mtime_ns", Integer, comment="local mtime when agreed: a differing disk changed"),
    Column("local_inode", Integer, comment="local inode when agreed: pairs local moves"),
    Column("remote_revision", Integer, comment="server revision when agreed (E1), else NULL"),
    Column("remote_modified_time", Text, comment="server modified_time when agreed"),
    comment=(
        "The base tree: per path, the last state both sides agreed on. A row exists only "
        "after both sides were observed holding it, never from a plan alone."
    ),
)

remote = Table(
    "remote",
    metadata,
    Column("path", Text, primary_key=True, comment="NFC workspace path"),
    Column("kind", Text, CheckConstraint("kind IN ('file', 'directory')"), nullable=False),
    Column("size", Integer, comment="NULL for a directory"),
    Column("modified_time", Text),
    Column("revision", Integer, comment="the entry's revision (E1)"),
    Column("hash", Text, comment="'sha256:<hex>' for a file (E1)"),
    comment=(
        "The remote tree as of meta.cursor, kept up to date from the change feed (E2). "
        "Each feed page and its cursor are written in one transaction, so the mirror is "
        "never behind or ahead of the cursor."
    ),
)

hash_cache = Table(
    "hash_cache",
    metadata,
    Column("path", Text, primary_key=True, comment="NFC workspace path of a local file"),
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
    Column("inode", Integer, nullable=False),
    Column("ctime_ns", Integer, nullable=False),
    Column("hash", Text, nullable=False, comment="content hash read with exactly this stat"),
    comment=(
        "Local hashes by stat signature: a hash is reused only when size, mtime_ns, inode "
        "and ctime_ns all still match, so an unchanged file is never read twice."
    ),
)


scan_rows = Table(
    "scan_rows",
    metadata,
    Column("path", Text, primary_key=True, comment="NFC workspace path"),
    Column("kind", Text, CheckConstraint("kind IN ('file', 'directory')"), nullable=False),
    Column("size", Integer, comment="NULL for a directory"),
    Column("mtime_ns", Integer),
    Column("inode", Integer),
    Index("scan_rows_inode", "inode"),
    comment=(
        "The last full sync's walk of the folder (stat only, no hashes), written as it "
        "goes: what a sync in slices compares with the base and the mirror in SQL."
    ),
)

slice_paths = Table(
    "slice_paths",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("path", Text, nullable=False),
    Column("scan_kind", Text, comment="the path's kind in scan_rows; NULL: not on disk"),
    Column("base_kind", Text, comment="its kind in the base; NULL: never synced"),
    Column("remote_kind", Text, comment="its kind in the mirror; NULL: not on the server"),
    comment=(
        "The paths where the walk, the base and the mirror disagree, in path order: the "
        "work of one sync in slices, read a slice at a time."
    ),
)


class JournalStatus(StrEnum):
    PLANNED = "planned"  # in a plan; nothing done yet
    STARTED = "started"  # the worker may have begun acting: a crash leaves it half done
    DONE = "done"  # the effect happened and was observed
    FAILED = "failed"  # the worker gave up; ``error`` says why


journal = Table(
    "journal",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("op_kind", Text, nullable=False, comment="class name of the op (syncd.planner.ops)"),
    Column("path", Text, nullable=False),
    Column("dest", Text, comment="move destination or conflict copy name, if any"),
    Column("payload", Text, nullable=False, comment="JSON of every field of the op"),
    Column(
        "status",
        Text,
        CheckConstraint("status IN ('planned', 'started', 'done', 'failed')"),
        nullable=False,
    ),
    Column("planned_time", Text, nullable=False),
    Column("started_time", Text, comment="committed before the worker touches anything"),
    Column("finished_time", Text),
    Column("error", Text, comment="why it failed"),
    comment=(
        "Intents written before effects: a 'started' row without 'done' after a restart "
        "means the op may be half applied; the reconciler re-plans from observed facts."
    ),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("conflict_path", Text, primary_key=True, comment="the copy kept beside the original"),
    Column("path", Text, nullable=False, comment="the path both sides changed"),
    Column("time", Text, nullable=False),
    comment="Conflict copies made, one row per copy: recording twice never makes two rows.",
)

item_errors = Table(
    "item_errors",
    metadata,
    Column("path", Text, primary_key=True),
    Column("reason", Text, nullable=False, comment="the latest reason, one line, no secrets"),
    Column("count", Integer, nullable=False, comment="how many syncs failed on this path"),
    Column("first_time", Text, nullable=False),
    Column("last_time", Text, nullable=False),
    comment="Paths that could not be synced; a row is deleted as soon as its path syncs.",
)

upload_sessions = Table(
    "upload_sessions",
    metadata,
    Column("workspace_id", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("size", Integer, nullable=False, comment="size of the local file being sent"),
    Column("mtime_ns", Integer, nullable=False, comment="its mtime: a differing file restarts"),
    Column("upload_id", Text, nullable=False),
    Column("expires_time", Text, nullable=False, comment="after this the server forgot it"),
    PrimaryKeyConstraint("workspace_id", "path"),
    comment="Unfinished chunked uploads (E3), resumed only for the very same local file.",
)

dirty_paths = Table(
    "dirty_paths",
    metadata,
    Column("path", Text, primary_key=True),
    Column("first_seen", Text, nullable=False, comment="kept when the path is marked again"),
    comment="Paths the watcher saw change and no sync has covered yet; survives a restart.",
)

daemon_status = Table(
    "daemon_status",
    metadata,
    Column("id", Integer, CheckConstraint("id = 1"), primary_key=True, comment="a single row"),
    Column(
        "state",
        Text,
        CheckConstraint("state IN ('syncing', 'idle', 'offline', 'paused', 'error')"),
        nullable=False,
    ),
    Column("transfers", Text, nullable=False, comment="JSON list of the transfers in flight"),
    Column("updated_time", Text, nullable=False, comment="a stale time means a dead daemon"),
    Column("pid", Integer, comment="process id of the daemon that wrote the row"),
    comment="What the running daemon is doing, for `syncd status`.",
)


class DaemonState(StrEnum):
    SYNCING = "syncing"
    IDLE = "idle"
    OFFLINE = "offline"
    PAUSED = "paused"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Lineage:
    """Which server, workspace and folder a database belongs to."""

    server_url: str
    workspace_id: str
    local_folder: str


@dataclass(frozen=True, slots=True)
class LastSync:
    time: str
    result: dict[str, object]


@dataclass(frozen=True, slots=True)
class Conflict:
    path: str
    conflict_path: str
    time: str


@dataclass(frozen=True, slots=True)
class ItemErrorRecord:
    path: str
    reason: str
    count: int
    first_time: str
    last_time: str


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    state: DaemonState
    transfers: list[dict[str, object]]
    updated_time: str
    pid: int | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for ``syncd status --json``."""
        return {
            "state": self.state.value,
            "transfers": self.transfers,
            "updated_time": self.updated_time,
            "pid": self.pid,
        }
