"""A fresh PostgreSQL database per schedule, on a cluster the soak is given.

A schedule must see nothing of another (its revisions, its accounts), and schedules run at
once; one database each, created before the servers start and dropped after they stop,
keeps them apart on one cluster. The name carries the seed, so a kept schedule's database
is easy to find.
"""

from __future__ import annotations

import uuid

from sqlalchemy.engine import make_url


def create_database(cluster_url: str, seed: int) -> str:
    """Create an empty database on the cluster of ``cluster_url``; the URL that names it."""
    import psycopg

    name = f"syncd_soak_{seed}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_driverless(cluster_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_url(cluster_url).set(database=name).render_as_string(hide_password=False)


def drop_database(cluster_url: str, database_url: str) -> None:
    """Drop a database that ``create_database`` made (its servers must have stopped)."""
    import psycopg

    name = make_url(database_url).database
    with psycopg.connect(_driverless(cluster_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _driverless(url: str) -> str:
    """psycopg takes ``postgresql://`` URLs, not SQLAlchemy's ``postgresql+psycopg://``."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
