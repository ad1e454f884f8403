"""Schema versions (Alembic, ``migrations/``): which schema a database has, and moving it on.

1. A new, empty database gets the current schema at once (``syncd serve`` on a fresh data
   directory, or on an empty PostgreSQL database, just works).
2. A database from before migrations (today's tables, no ``alembic_version``) is adopted in
   place: the old ad-hoc upgrades run, missing tables and indexes are made, and it is
   stamped with the first revision, which is exactly that layout.
3. Any other schema that is not this version's is refused with one line (``SchemaMismatch``,
   exit 2) unless ``migrate`` was asked for: older means run ``syncd admin migrate``,
   newer means this syncd is too old for the database.
4. Everything runs in the caller's write transaction, under ``db.schema_lock``, so
   processes starting together never race on the schema.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect

from syncd.errors import UsageError
from syncd.server.schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

BASELINE = "0001"  # the layout of data directories made before migrations


class SchemaMismatch(UsageError):
    """The database's schema is not the one this version of syncd speaks."""


def _quiet() -> None:
    """Alembic's INFO lines (plugins, contexts) are not the server's to print."""
    for name in ("alembic", "alembic.runtime.plugins", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _config(conn: Connection) -> Config:
    _quiet()  # before alembic is imported: it logs its plugins as it loads them
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.attributes["connection"] = conn
    return config


def head() -> str:
    """The schema revision this version of syncd speaks."""
    _quiet()
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    found = ScriptDirectory.from_config(config).get_current_head()
    assert found is not None
    return found


def current(conn: Connection) -> str | None:
    """The database's schema revision; None when it has no version table."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def prepare_schema(conn: Connection, *, check: bool = True) -> None:
    """PROMISES 1-3 (``check=False``: leave an older schema for ``upgrade``)."""
    from syncd.server.db import schema_lock, upgrade_legacy

    schema_lock(conn)
    config = _config(conn)
    from alembic import command
    from alembic.script import ScriptDirectory

    revision = current(conn)
    if revision is None:
        tables = set(inspect(conn).get_table_names())
        if not tables & set(metadata.tables):
            command.upgrade(config, "head")
            return
        upgrade_legacy(conn)
        metadata.create_all(conn)  # the baseline's tables and indexes that are missing
        for table in metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
        command.stamp(config, BASELINE)
        revision = BASELINE
    wanted = head()
    if revision == wanted or not check:
        return
    known = ScriptDirectory.from_config(config)
    try:
        known.get_revision(revision)
    except Exception:
        raise SchemaMismatch(
            f"the database schema ({revision}) is newer than this syncd ({wanted}); upgrade syncd"
        ) from None
    raise SchemaMismatch(
        f"the database schema ({revision}) is older than this syncd ({wanted}); "
        "run `syncd admin migrate`"
    )


def upgrade(conn: Connection) -> tuple[str | None, str]:
    """Move the schema to this version's; (revision before, revision after)."""
    from syncd.server.db import schema_lock

    schema_lock(conn)
    config = _config(conn)
    from alembic import command

    before = current(conn)
    command.upgrade(config, "head")
    return before, head()
