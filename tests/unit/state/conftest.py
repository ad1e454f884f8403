"""Fixtures for the state tests: a real SQLite file in a fresh temp directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.local.hashing import StatSig
from syncd.local.scan import HashRecord
from syncd.state.store import Store


def Sig(size: int, mtime_ns: int, inode: int, ctime_ns: int) -> StatSig:
    return StatSig(size=size, mtime_ns=mtime_ns, inode=inode, ctime_ns=ctime_ns)


def Record(path: str, sig: StatSig, hash: str) -> HashRecord:
    """The scanner's own record type, so the store is tested against what it is fed."""
    return HashRecord(path=path, hash=hash, sig=sig)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "nested" / "db.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as opened:
        yield opened
