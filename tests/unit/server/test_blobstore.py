"""``FileBlobStore``: the promises of the ``BlobStore`` interface, on a real folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from syncd.server.blobstore import BlobMissing, BlobStore, FileBlobStore


def source(tmp_path: Path, data: bytes) -> tuple[Path, str]:
    path = tmp_path / f"{len(data)}.part"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return FileBlobStore(tmp_path / "blobs")


def test_put_keeps_the_callers_copy_and_open_reads_the_blob(
    tmp_path: Path, store: BlobStore
) -> None:
    path, digest = source(tmp_path, b"contents")
    store.put(digest, path)
    assert path.read_bytes() == b"contents"  # the publisher's copy stays
    assert store.exists(digest)
    with store.open(digest) as handle:
        assert handle.read() == b"contents"
    assert list(store.stored()) == [(digest, len(b"contents"))]


def test_put_of_a_blob_that_is_there_leaves_it_alone(tmp_path: Path, store: BlobStore) -> None:
    path, digest = source(tmp_path, b"first")
    store.put(digest, path)
    other = tmp_path / "other"
    other.write_bytes(b"never read: equal names mean equal bytes")
    store.put(digest, other)
    with store.open(digest) as handle:
        assert handle.read() == b"first"


def test_a_deleted_blob_is_missing_and_a_second_delete_does_nothing(
    tmp_path: Path, store: BlobStore
) -> None:
    path, digest = source(tmp_path, b"gone soon")
    store.put(digest, path)
    store.delete(digest)
    store.delete(digest)
    assert not store.exists(digest)
    with pytest.raises(BlobMissing):
        store.open(digest)
    assert list(store.stored()) == []


def test_stored_skips_what_is_not_a_blob(tmp_path: Path) -> None:
    root = tmp_path / "blobs"
    store = FileBlobStore(root)
    (root / "tmp").mkdir()
    (root / "tmp" / "x.part").write_bytes(b"a body arriving")
    path, digest = source(tmp_path, b"real")
    store.put(digest, path)
    (store.path_of(digest).parent / "notes.txt").write_text("not a blob")
    assert [name for name, _ in store.stored()] == [digest]
