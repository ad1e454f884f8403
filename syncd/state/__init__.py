"""The sync client's state: base tree, cursor and lineage, hash cache, journal, and more.

1. ``Store`` is the only door to the database (``store.py``): its transactions, the trees
   and the meta facts; the small tables (upload sessions, conflicts, item errors, dirty
   paths, daemon status, journal rows) hang off it (``records.py``). The tables and what
   each column guarantees are in ``schema.py``.
2. ``Journal`` records every op as started before the worker acts on it.
3. ``state_db_path`` names the one database of a (server, workspace, folder) triple,
   always outside the synced folder.
"""

from syncd.state.journal import Journal, JournalEntry, decode_op, encode_op
from syncd.state.paths import default_state_dir, state_db_path
from syncd.state.schema import (
    SCHEMA_VERSION,
    Conflict,
    DaemonState,
    DaemonStatus,
    ItemErrorRecord,
    JournalStatus,
    LastSync,
    Lineage,
    MetaKey,
)
from syncd.state.store import Store

__all__ = [
    "SCHEMA_VERSION",
    "Conflict",
    "DaemonState",
    "DaemonStatus",
    "ItemErrorRecord",
    "Journal",
    "JournalEntry",
    "JournalStatus",
    "LastSync",
    "Lineage",
    "MetaKey",
    "Store",
    "decode_op",
    "default_state_dir",
    "encode_op",
    "state_db_path",
]
