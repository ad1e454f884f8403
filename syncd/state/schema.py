"""The tables of the client's state database, and the values read back from them.

1. One database holds the state of exactly one (server, workspace, local folder) triple;
   the ``meta`` table names that lineage so a database is never applied to another.
2. Paths are NFC workspace paths (``syncd.paths.normalize``) compared byte-wise (SQLite
   BINARY collation), so ``a/`` prefixes select a subtree exactly and case never folds.
3. Times are ISO 8601 UTC strings with ``+00:00``, the spelling the protocol uses.
4. Only the ``Store`` and the classes that hang off it read or write these tables.
5. The tables are plain SQLite DDL (``Table.create_sql``), created by the store when
   missing: opening the state costs no SQL toolkit, which a no-op sync would pay for at
   every start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

SCHEMA_VERSION = 3
"""Bumped on every change of a table; a database with a higher number is refused, one
with a lower number is moved on by ``MIGRATIONS`` when it is opened."""


def now_iso() -> str:
    """The current time as the protocol writes it (promise 3)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its name, its SQLite type and constraints, and what it holds."""

    name: str
    ddl: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the state database, as ``CREATE TABLE`` makes it."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    comment: str = ""
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (name, columns)

    @property
    def create_sql(self) -> str:
        cols = [f'"{c.name}" {c.ddl}' for c in self.columns]
        key = ", ".join(f'"{k}"' for k in self.key)
        return f"CREATE TABLE {self.name} ({', '.join([*cols, f'PRIMARY KEY ({key})'])})"

    @property
    def index_sql(self) -> list[str]:
        return [
            f"CREATE INDEX IF NOT EXISTS {name} ON {self.name} ({', '.join(cols)})"
            for name, cols in self.indexes
        ]


def _table(
    name: str,
    *columns: Column,
    key: tuple[str, ...] = ("path",),
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = (),
    comment: str,
) -> Table:
    return Table(name, columns, key, comment, indexes)


TEXT, INTEGER = "TEXT NOT NULL", "INTEGER NOT NULL"
KIND = "TEXT NOT NULL CHECK (kind IN ('file', 'directory'))"

meta = _table(
    "meta",
    Column("key", TEXT, "one fact per key; see MetaKey"),
    Column("value", "TEXT", "text or JSON; NULL means unset"),
    key=("key",),
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


base = _table(
    "base",
    Column("path", TEXT, "NFC workspace path"),
    Column("kind", KIND, "what both sides held"),
    Column("size", "INTEGER", "bytes of the agreed file; NULL for a directory"),
    Column("hash", "TEXT", "'sha256:<hex>' of the agreed content; NULL if unknown"),
    Column("local_mtime_ns", "INTEGER", "local mtime when agreed: a differing disk changed"),
    Column("local_inode", "INTEGER", "local inode when agreed: pairs local moves"),
    Column("remote_revision", "INTEGER", "server revision when agreed (E1), else NULL"),
    Column("remote_modified_time", "TEXT", "server modified_time when agreed"),
    comment=(
        "The base tree: per path, the last state both sides agreed on. A row exists only "
        "after both sides were observed holding it, never from a plan alone."
    ),
)

remote = _table(
    "remote",
    Column("path", TEXT, "NFC workspace path"),
    Column("kind", KIND),
    Column("size", "INTEGER", "NULL for a directory"),
    Column("modified_time", "TEXT"),
    Column("revision", "INTEGER", "the entry's revision (E1)"),
    Column("hash", "TEXT", "'sha256:<hex>' for a file (E1)"),
    comment=(
        "The remote tree as of meta.cursor, kept up to date from the change feed (E2). "
        "Each feed page and its cursor are written in one transaction, so the mirror is "
        "never behind or ahead of the cursor."
    ),
)

hash_cache = _table(
    "hash_cache",
    Column("path", TEXT, "NFC workspace path of a local file"),
    Column("size", INTEGER),
    Column("mtime_ns", INTEGER),
    Column("inode", INTEGER),
    Column("ctime_ns", INTEGER),
    Column("hash", TEXT, "content hash read with exactly this stat"),
    comment=(
        "Local hashes by stat signature: a hash is reused only when size, mtime_ns, inode "
        "and ctime_ns all still match, so an unchanged file is never read twice."
    ),
)


scan_rows = _table(
    "scan_rows",
    Column("path", TEXT, "NFC workspace path"),
    Column("parent", TEXT, "the folder holding it ('' at the root): one range per folder"),
    Column("kind", KIND),
    Column("size", "INTEGER", "NULL for a directory"),
    Column("mtime_ns", "INTEGER", "NULL for a directory"),
    Column("inode", "INTEGER"),
    indexes=(("scan_rows_inode", ("inode",)), ("scan_rows_parent", ("parent", "path"))),
    comment=(
        "The folder as the last full sync's walk saw it (stat only, no hashes), kept "
        "between syncs: each walk writes only the differences, folder by folder, so the "
        "table equals the disk as just walked. What a sync in slices compares with the "
        "base and the mirror in SQL."
    ),
)

scan_folders = _table(
    "scan_folders",
    Column("path", TEXT, "the folder ('' at the root)"),
    Column("digest", "BLOB NOT NULL", "blake2b of the folder's scan_rows, in path order"),
    comment=(
        "A digest of each folder's rows in scan_rows, written by the walk once the rows "
        "equal its listing, and deleted by a trigger on any write to a row of that folder "
        "(``FOLDER_TRIGGERS``). So a digest, when there is one, is always that of the rows "
        "stored: a walk whose listing gives the same digest skips reading the rows back."
    ),
)

changed_paths = _table(
    "changed_paths",
    Column("path", TEXT),
    comment=(
        "Every path where the walk, the base and the mirror may disagree: a trigger adds "
        "a path whenever its row in scan_rows, base or remote is written, in that write's "
        "transaction, and a path leaves only when the three rows were found to agree. So "
        "no disagreement is ever missing here, even after a crash, and a no-op sync "
        "compares only these paths instead of the whole tree."
    ),
)

slice_paths = _table(
    "slice_paths",
    Column("seq", INTEGER),
    Column("path", TEXT),
    Column("scan_kind", "TEXT", "the path's kind in scan_rows; NULL: not on disk"),
    Column("base_kind", "TEXT", "its kind in the base; NULL: never synced"),
    Column("remote_kind", "TEXT", "its kind in the mirror; NULL: not on the server"),
    key=("seq",),
    comment=(
        "The paths where the walk, the base and the mirror disagree, in path order: the "
        "work of one sync in slices, read a slice at a time."
    ),
)

CHANGE_TRACKED = ("scan_rows", "base", "remote")
"""The tables whose writes mark their paths in ``changed_paths``."""


def _triggers(table: str) -> tuple[str, ...]:
    # NOT EXISTS, not OR IGNORE: the writer's own conflict clause (an upsert) would
    # override the trigger's and fail on a path already marked.
    def mark(row: str) -> str:
        return (
            f"INSERT INTO changed_paths (path) SELECT {row}.path WHERE NOT EXISTS "
            f"(SELECT 1 FROM changed_paths WHERE path = {row}.path);"
        )

    return (
        f"CREATE TRIGGER IF NOT EXISTS {table}_changed_insert AFTER INSERT ON {table} "
        f"BEGIN {mark('NEW')} END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_changed_update AFTER UPDATE ON {table} "
        f"BEGIN {mark('OLD')} {mark('NEW')} END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_changed_delete AFTER DELETE ON {table} "
        f"BEGIN {mark('OLD')} END",
    )


def _folder_triggers() -> tuple[str, ...]:
    def drop(row: str) -> str:
        return f"DELETE FROM scan_folders WHERE path = {row}.parent;"

    return (
        "CREATE TRIGGER IF NOT EXISTS scan_rows_folder_insert AFTER INSERT ON scan_rows "
        f"BEGIN {drop('NEW')} END",
        "CREATE TRIGGER IF NOT EXISTS scan_rows_folder_update AFTER UPDATE ON scan_rows "
        f"BEGIN {drop('OLD')} {drop('NEW')} END",
        "CREATE TRIGGER IF NOT EXISTS scan_rows_folder_delete AFTER DELETE ON scan_rows "
        f"BEGIN {drop('OLD')} END",
    )


FOLDER_TRIGGERS = _folder_triggers()
"""Any write to a folder's rows in scan_rows drops that folder's digest."""

TRIGGERS = (*(sql for table in CHANGE_TRACKED for sql in _triggers(table)), *FOLDER_TRIGGERS)
"""Created with the tables, and again after a migration (``IF NOT EXISTS``)."""


@dataclass(frozen=True, slots=True)
class Migration:
    """From one schema version to the next: ``before`` runs first, then the store creates
    what is missing (tables, indexes, triggers), then ``after``; all in one transaction."""

    before: tuple[str, ...]
    after: tuple[str, ...] = ()


MIGRATIONS = {
    1: Migration(
        # scan_rows gains ``parent`` and becomes lasting; it is only a walk, so it is
        # remade empty. Every path of the base and the mirror is marked for comparison:
        # the next walk marks what the disk holds, so no disagreement is missed.
        before=("DROP TABLE IF EXISTS scan_rows", "DROP TABLE IF EXISTS slice_paths"),
        after=(
            "INSERT OR IGNORE INTO changed_paths (path) "
            "SELECT path FROM base UNION SELECT path FROM remote",
        ),
    ),
    # scan_folders is new (created empty by the store, with its triggers): the next walk
    # compares every folder's rows once and writes their digests.
    2: Migration(before=()),
}
"""``MIGRATIONS[v]`` moves a database of version ``v`` to ``v + 1``."""


class JournalStatus(StrEnum):
    PLANNED = "planned"  # in a plan; nothing done yet
    STARTED = "started"  # the worker may have begun acting: a crash leaves it half done
    DONE = "done"  # the effect happened and was observed
    FAILED = "failed"  # the worker gave up; ``error`` says why


journal = _table(
    "journal",
    Column("id", INTEGER),
    Column("op_kind", TEXT, "class name of the op (syncd.planner.ops)"),
    Column("path", TEXT),
    Column("dest", "TEXT", "move destination or conflict copy name, if any"),
    Column("payload", TEXT, "JSON of every field of the op"),
    Column("status", "TEXT NOT NULL CHECK (status IN ('planned', 'started', 'done', 'failed'))"),
    Column("planned_time", TEXT),
    Column("started_time", "TEXT", "committed before the worker touches anything"),
    Column("finished_time", "TEXT"),
    Column("error", "TEXT", "why it failed"),
    key=("id",),
    comment=(
        "Intents written before effects: a 'started' row without 'done' after a restart "
        "means the op may be half applied; the reconciler re-plans from observed facts."
    ),
)

conflicts = _table(
    "conflicts",
    Column("conflict_path", TEXT, "the copy kept beside the original"),
    Column("path", TEXT, "the path both sides changed"),
    Column("time", TEXT),
    key=("conflict_path",),
    comment="Conflict copies made, one row per copy: recording twice never makes two rows.",
)

item_errors = _table(
    "item_errors",
    Column("path", TEXT),
    Column("reason", TEXT, "the latest reason, one line, no secrets"),
    Column("count", INTEGER, "how many syncs failed on this path"),
    Column("first_time", TEXT),
    Column("last_time", TEXT),
    comment="Paths that could not be synced; a row is deleted as soon as its path syncs.",
)

upload_sessions = _table(
    "upload_sessions",
    Column("workspace_id", TEXT),
    Column("path", TEXT),
    Column("size", INTEGER, "size of the local file being sent"),
    Column("mtime_ns", INTEGER, "its mtime: a differing file restarts"),
    Column("upload_id", TEXT),
    Column("expires_time", TEXT, "after this the server forgot it"),
    key=("workspace_id", "path"),
    comment="Unfinished chunked uploads (E3), resumed only for the very same local file.",
)

dirty_paths = _table(
    "dirty_paths",
    Column("path", TEXT),
    Column("first_seen", TEXT, "kept when the path is marked again"),
    comment="Paths the watcher saw change and no sync has covered yet; survives a restart.",
)

daemon_status = _table(
    "daemon_status",
    Column("id", "INTEGER NOT NULL CHECK (id = 1)", "a single row"),
    Column(
        "state",
        "TEXT NOT NULL CHECK (state IN ('syncing', 'idle', 'offline', 'paused', 'error'))",
    ),
    Column("transfers", TEXT, "JSON list of the transfers in flight"),
    Column("updated_time", TEXT, "a stale time means a dead daemon"),
    Column("pid", "INTEGER", "process id of the daemon that wrote the row"),
    key=("id",),
    comment="What the running daemon is doing, for `syncd status`.",
)

TABLES = (
    meta,
    base,
    remote,
    hash_cache,
    scan_rows,
    scan_folders,
    changed_paths,
    slice_paths,
    journal,
    conflicts,
    item_errors,
    upload_sessions,
    dirty_paths,
    daemon_status,
)
"""Every table, in the order they are created."""


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
