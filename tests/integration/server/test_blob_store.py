"""Blobs kept in the database: stored with their first reference, gone with their last."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from syncd.server import blobs as blobs_module
from syncd.server.blobs import INLINE_MAX, Blobs, on_disk
from syncd.server.db import Database, open_database
from syncd.server.schema import blob_bytes, blob_pins, blobs


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'syncd.db'}")
    yield database
    database.dispose()


@pytest.fixture
def store(tmp_path: Path) -> Blobs:
    return on_disk(tmp_path / "blobs")


def blob(data: bytes) -> tuple[str, int]:
    return hashlib.sha256(data).hexdigest(), len(data)


def state(db: Database, digest: str) -> tuple[int | None, bytes | None]:
    """(refcount or None, kept bytes or None) of one blob."""
    with db.read() as conn:
        count = conn.execute(select(blobs.c.refcount).where(blobs.c.hash == digest)).scalar()
        data = conn.execute(select(blob_bytes.c.data).where(blob_bytes.c.hash == digest)).scalar()
    return count, data


def test_bytes_live_exactly_as_long_as_a_reference(db: Database, store: Blobs) -> None:
    digest, size = blob(b"small")
    for _ in range(2):
        db.grouped(lambda conn: store.add_ref(conn, digest, size, b"small"))
    assert state(db, digest) == (2, b"small")
    assert db.grouped(lambda conn: store.unref(conn, [digest])) is False
    assert state(db, digest) == (1, b"small")
    assert db.grouped(lambda conn: store.unref(conn, [digest])) is False  # nothing to collect
    assert state(db, digest) == (None, None)


def test_a_pinned_blob_waits_for_collection(db: Database, store: Blobs) -> None:
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


def test_an_unreferenced_blob_gets_its_bytes_back_when_reused(db: Database, store: Blobs) -> None:
    digest, size = blob(b"again")
    with db.write() as conn:  # a row left by a file blob whose file collection removed
        conn.execute(insert(blobs).values(hash=digest, size=size, refcount=0))
    db.grouped(lambda conn: store.add_ref(conn, digest, size, b"again"))
    assert state(db, digest) == (1, b"again")
    with db.read() as conn:
        assert store.inline_bytes(conn, digest) == b"again"


def read(store: Blobs, digest: str) -> bytes:
    with store.open(digest) as handle:
        return handle.read()


def placed(store: Blobs, data: bytes) -> tuple[Path, str]:
    """A temp file holding ``data``, fsynced: what a PUT hands to ``publishing``."""
    temp = store.temp()
    temp.write(data)
    return temp.path, temp.finish()


def test_a_reference_brings_back_a_file_collected_after_its_placement(
    db: Database, store: Blobs
) -> None:
    data = b"F" * (INLINE_MAX + 1)
    digest, size = blob(data)
    db.grouped(lambda conn: store.add_ref(conn, digest, size, copy=placed(store, data)[0]))
    assert db.grouped(lambda conn: store.unref(conn, [digest])) is True  # refcount 0, a file
    source, _ = placed(store, data)
    with store.publishing(db, source, digest) as copy:
        with db.write() as conn:  # as any server process may, while this one publishes
            assert store.collect(conn) == 1
        assert not store.store.exists(digest)
        db.grouped(lambda conn: store.add_ref(conn, digest, size, copy=copy))
    assert not source.exists()  # the publisher's copy goes once the reference is in
    assert read(store, digest) == data
    assert state(db, digest) == (1, None)


def test_an_orphan_file_goes_but_a_later_reference_links_it_again(
    db: Database, store: Blobs
) -> None:
    data = b"O" * (INLINE_MAX + 1)
    digest, size = blob(data)
    source, _ = placed(store, data)
    with store.publishing(db, source, digest) as copy:
        with db.write() as conn:  # a server starting meanwhile sees a file without a row
            assert store.sweep_orphans(conn) == 1
        assert not store.store.exists(digest)
        db.grouped(lambda conn: store.add_ref(conn, digest, size, copy=copy))
    assert read(store, digest) == data


def test_a_refused_publication_leaves_no_file_and_no_row(db: Database, store: Blobs) -> None:
    data = b"R" * (INLINE_MAX + 1)
    digest, _ = blob(data)
    source, _ = placed(store, data)
    with pytest.raises(RuntimeError), store.publishing(db, source, digest):
        assert store.store.exists(digest)
        raise RuntimeError("refused")
    assert not store.store.exists(digest) and not source.exists()
    assert state(db, digest) == (None, None)


def test_only_old_temp_files_are_swept(store: Blobs, monkeypatch: pytest.MonkeyPatch) -> None:
    young, _ = placed(store, b"a body another server process is receiving")
    assert store.sweep_temps() == 0 and young.exists()
    monkeypatch.setattr(blobs_module, "TEMP_AGE", -1.0)  # everything counts as old now
    assert store.sweep_temps() == 1 and not young.exists()
