"""Throwaway PostgreSQL databases for the tests, on the cluster ``.ci/postgres.sh`` starts.

``SYNCD_TEST_DATABASE_URL`` names the cluster (its ``postgres`` database); without it the
PostgreSQL cases skip with that reason. Each ``fresh_database`` is a new, empty database,
dropped afterwards, so tests on it see nothing of each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from syncd.soak.harness import ServerProcess

ENV = "SYNCD_TEST_DATABASE_URL"
SKIP_REASON = f"{ENV} is not set (source .ci/postgres.sh && pg_start)"
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def cluster_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        pytest.skip(SKIP_REASON)
    return url


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty database (``postgresql://``), dropped when the block ends."""
    base = cluster_url()
    name = f"syncd_test_{uuid.uuid4().hex[:12]}"
    _admin(base, f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        _admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_for(engine: str) -> Iterator[str | None]:
    """None for SQLite (the data directory's own file), else a fresh PostgreSQL database."""
    if engine == "sqlite":
        yield None
        return
    with fresh_database() as url:
        yield url


@contextmanager
def process_pair(data_dir: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two ``syncd serve`` processes on one fresh database and one data directory."""
    from syncd.soak.harness import ServerProcess

    with (
        fresh_database() as url,
        ServerProcess(data_dir, database_url=url) as one,
        ServerProcess(data_dir, database_url=url) as two,
    ):
        yield one, two
