"""Core statements compiled once and run straight on the DBAPI cursor: the upload hot path.

SQLAlchemy's execution layer costs 20-40 µs of Python per statement (events, result
metadata, parameter processing) where SQLite needs 2-5 µs; a small PUT runs eight
statements under the one write lock, so that layer was most of its time there. A
``Compiled`` statement keeps what Core gives: it is written as Core and compiled by the
engine's own dialect (its paramstyle and quoting), once per dialect.

1. Only for statements whose parameters and results need no conversion by SQLAlchemy
   (strings, integers, bytes, NULL); rows come back as plain tuples, in column order.
2. They run on the connection's own DBAPI connection, so they belong to the caller's
   transaction and savepoint, and commit or roll back with everything else.
3. A statement is read to the end before ``run`` returns (``RETURNING`` included), so no
   cursor is left open across a savepoint release or a commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import Executable


class Compiled:
    """One Core statement, compiled lazily for each dialect that runs it."""

    def __init__(self, statement: Executable, keys: Iterable[str] = ()) -> None:
        """``keys`` names the columns an INSERT or UPDATE sets from the parameters."""
        self.statement = statement
        self.keys = list(keys)
        self._by_dialect: dict[object, tuple[str, list[str] | None, dict[str, Any]]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, list[str] | None, dict[str, Any]]:
        key = (type(dialect), dialect.paramstyle)
        found = self._by_dialect.get(key)
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.keys or None)
            order = list(compiled.positiontup or ()) if compiled.positional else None
            # Literals in the statement (``revision + 1``) are parameters with a value.
            defaults = {key: value for key, value in compiled.params.items() if value is not None}
            found = (compiled.string, order, defaults)
            self._by_dialect[key] = found
        return found

    def run(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute with ``params`` inside ``conn``'s transaction; every row it returns."""
        sql, order, defaults = self._for(conn.dialect)
        if defaults:
            params = {**defaults, **params}
        args: Any = [params[key] for key in order] if order is not None else params
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()

    def run_many(self, conn: Connection, rows: list[Mapping[str, Any]]) -> None:
        """Execute once per parameter set (an INSERT of several rows)."""
        sql, order, defaults = self._for(conn.dialect)
        if order is not None:
            batch: Any = [[{**defaults, **row}[key] for key in order] for row in rows]
        else:
            batch = [{**defaults, **row} for row in rows]
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, batch)
        finally:
            cursor.close()
