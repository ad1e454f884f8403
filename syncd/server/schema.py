"""The server's tables: what each row guarantees (SQLAlchemy Core, no ORM).

1. Times are ISO 8601 UTC strings with microseconds and ``+00:00``; they sort as text.
2. Paths are NFC and compared in binary order, which is code-point order for UTF-8
   (``COLLATE "C"`` on PostgreSQL), so listings and subtree ranges agree on both engines.
4. Sizes, offsets and revisions are 64-bit.
3. A blob row's ``refcount`` counts the entries that name it; every row with
   ``refcount > 0`` has its bytes: a ``blob_bytes`` row, or else a file on disk.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

metadata = MetaData()
# PROMISE 2 on both engines: SQLite compares text in binary; PostgreSQL is told to ("C").
PATH = String().with_variant(String(collation="C"), "postgresql")

accounts = Table(
    "accounts",
    metadata,
    Column("id", String, primary_key=True),  # a-<random>, never reused
    Column("tag", String, nullable=False, unique=True),  # globally unique display name
    Column("create_time", String, nullable=False),
    Column("last_active_day", String),  # YYYY-MM-DD, at most one write per day
    Column("total_active_days", BigInteger, nullable=False, default=0),
    Column("active_workspace_id", String),  # a live workspace of this account, or NULL
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String, primary_key=True),  # sha256 hex of the key; the key is never stored
    Column("account_id", String, ForeignKey("accounts.id"), nullable=False),
    Column("create_time", String, nullable=False),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String, primary_key=True),  # w-<random>, kept (soft-deleted) after DELETE
    Column("account_id", String, ForeignKey("accounts.id"), nullable=False),
    Column("name", String, nullable=False),
    Column("create_time", String, nullable=False),
    Column("modified_time", String, nullable=False),
    Column("revision", BigInteger, nullable=False, default=0),  # highest revision ever issued
    Column("history_floor", BigInteger, nullable=False, default=0),  # oldest servable cursor
    Column("deleted_time", String),  # set by DELETE; the row keeps the revision lineage
)

entries = Table(
    "entries",
    metadata,
    Column("workspace_id", String, ForeignKey("workspaces.id"), primary_key=True),
    Column("path", PATH, primary_key=True),
    Column("type", String, nullable=False),  # "file" | "directory"
    Column("size", BigInteger),  # NULL for a directory
    Column("hash", String),  # sha256 hex of a file's blob; NULL for a directory
    Column("modified_time", String, nullable=False),
    Column("revision", BigInteger, nullable=False),  # revision of the last change
    Column("created_revision", BigInteger, nullable=False),  # revision that created this path
)
Index("entries_by_revision", entries.c.workspace_id, entries.c.revision)

tombstones = Table(
    "tombstones",
    metadata,
    # One row per deleted entry while its deletion is within the feed history: the entry
    # lived from ``created_revision`` to ``revision``, so a cursor in [created_revision,
    # revision) saw it and is told of its deletion; a cursor outside that span never saw it.
    Column("workspace_id", String, ForeignKey("workspaces.id"), primary_key=True),
    Column("path", PATH, primary_key=True),
    Column("revision", BigInteger, primary_key=True),  # the revision that deleted the entry
    Column("type", String, nullable=False),
    # The revision that created the deleted entry; 0 for rows kept from before this
    # column existed (such a row counts as seen by every cursor below its deletion).
    Column("created_revision", BigInteger, nullable=False, server_default="0"),
)
Index("tombstones_by_revision", tombstones.c.workspace_id, tombstones.c.revision)
Index("tombstones_by_creation", tombstones.c.workspace_id, tombstones.c.created_revision)

blobs = Table(
    "blobs",
    metadata,
    Column("hash", String, primary_key=True),  # sha256 hex, also the file name on disk
    Column("size", BigInteger, nullable=False),
    Column("refcount", BigInteger, nullable=False),
)
# Only the unreferenced blobs: collection runs after every freeing write and finds them
# without reading the whole table.
Index(
    "blobs_unreferenced",
    blobs.c.hash,
    sqlite_where=blobs.c.refcount <= 0,
    postgresql_where=blobs.c.refcount <= 0,
)

blob_bytes = Table(
    "blob_bytes",
    metadata,
    # The bytes of a small blob, kept in the database instead of a file: a PUT of it is
    # durable with the commit's one fsync instead of three (file, folder, commit). Kept in
    # its own table so that scans of ``blobs`` (collection) stay small.
    Column("hash", String, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

blob_pins = Table(
    "blob_pins",
    metadata,
    # A blob a running backup still needs; collection skips it until the pin expires.
    Column("hash", String, primary_key=True),
    Column("holder", String, primary_key=True),
    Column("expires_time", String, nullable=False),
)

uploads = Table(
    "uploads",
    metadata,
    # An unfinished upload session; its bytes live in uploads/<id> under the data directory.
    Column("id", String, primary_key=True),
    Column("workspace_id", String, ForeignKey("workspaces.id"), nullable=False),
    Column("path", PATH, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("hash", String),  # declared sha256 hex, checked at commit
    Column("offset", BigInteger, nullable=False),  # bytes durably received
    Column("create_time", String, nullable=False),
    Column("expires_time", String, nullable=False),
)

backups = Table(
    "backups",
    metadata,
    # Every backup file written on this data directory (admin backup or workspace DELETE).
    Column("id", Integer, primary_key=True, autoincrement=True),  # SQLite rowid
    Column("workspace_id", String, nullable=False),
    Column("name", String, nullable=False),
    Column("file", String, nullable=False),
    Column("reason", String, nullable=False),  # "manual" | "deleted"
    Column("revision", BigInteger, nullable=False),
    Column("entry_count", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("create_time", String, nullable=False),
)
