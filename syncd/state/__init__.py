"""The sync client's state: base tree, cursor and lineage, hash cache, journal, and more.

1. ``Store`` is the only door to the database (``store.py``): its transactions and the
   base tree. Each other table's job hangs off it in a module of its own: ``store.meta``
   (lineage, cursor, merge, capabilities, last sync; ``meta.py``), ``store.remote`` (the
   change feed's mirror; ``mirror.py``), ``store.hashes`` (the hash cache; ``hashes.py``),
   ``store.scan_rows`` (the walk and queue of a sync in slices; ``scan_rows.py``)
   and the small tables (upload sessions, conflicts, item errors, dirty paths, daemon
   status, journal rows; ``records.py``). The SQL they share is in ``sql.py``; the tables
   and what each column guarantees are in ``schema.py``.
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
