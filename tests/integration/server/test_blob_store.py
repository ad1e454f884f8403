"""Blobs kept in the database: stored with their first reference, gone with their last."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from syncd.server.blobs import BlobStore
from syncd.server.db import Database, open_database
from syncd.server.schema import blob_bytes, blob_pins, blobs


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'syncd.db'}")
    yield database
    database.dispose()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def blob(data: bytes) -> tuple[str, int]:
    return hashlib.sha256(data).hexdigest(), len(data)


def state(db: Database, digest: str) -> tuple[int | None, bytes | None]:
    """(refcount or None, kept bytes or None) of one blob."""
    with db.read() as conn:
        count = conn.execute(select(blobs.c.refcount).where(blobs.c.hash == digest)).scalar()
        data = conn.execute(select(blob_bytes.c.data).where(blob_bytes.c.hash == digest)).scalar()
    return count, data


def test_bytes_live_exactly_as_long_as_a_reference(db: Database, store: BlobStore) -> None:
    digest, size = blob(b"small")
    for _ in range(2):
        db.grouped(lambda conn: store.add_ref(conn, digest, size, b"small"))
    assert state(db, digest) == (2, b"small")
    assert db.grouped(lambda conn: store.unref(conn, [digest])) is False
    assert state(db, digest) == (1, b"small")
    assert db.grouped(lambda conn: store.unref(conn, [digest])) is False  # nothing to collect
    assert state(db, digest) == (None, None)


def test_a_pinned_blob_waits_for_collection(db: Database, store: BlobStore) -> None:
    digest, size = blob(b"pinned")
    db.grouped(lambda conn: store.add_ref(conn, digest, size, b"pinned"))
    with db.write() as conn:  # as a running backup does
        conn.execute(insert(blob_pins).values(hash=digest, holder="b", expires_time="9999"))
    assert db.grouped(lambda conn: store.unref(conn, [digest])) is True
    assert state(db, digest) == (0, b"pinned")  # the backup may still read it
    with db.write() as conn:
        conn.execute(blob_pins.delete())
        assert store.collect(conn) == 1
    assert state(db, digest) == (None, None)


def test_an_unreferenced_blob_gets_its_bytes_back_when_reused(
    db: Database, store: BlobStore
) -> None:
    digest, size = blob(b"again")
    with db.write() as conn:  # a row left by a file blob whose file collection removed
        conn.execute(insert(blobs).values(hash=digest, size=size, refcount=0))
    db.grouped(lambda conn: store.add_ref(conn, digest, size, b"again"))
    assert state(db, digest) == (1, b"again")
    with db.read() as conn:
        assert store.inline_bytes(conn, digest) == b"again"
