"""The body of a batch write (E5): its records, with payloads read from files as they go.

1. Nothing is gathered whole: each record's payload is read only when the body reaches
   it. A file of at most ``HASHED_AHEAD`` bytes is read, hashed and checked first, so its
   record carries its hash and the server refuses bytes that are not it; a larger file is
   streamed and checked before its last byte leaves (``SourceFile``).
2. A file that cannot be opened, or is no longer what was measured, raises ``Dropped``
   from inside the body, so the body ends short: a server never applies a cut stream,
   and the caller sends the batch again without that item.
3. Each attempt's bytes are hashed into ``Pending.hashes``: after a lost answer, the
   entry the server shows is recognised as ours if it has one of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from syncd.errors import ItemError, SourceChanged, SyncdError
from syncd.protocol.batch import DeleteRecord, MkdirRecord, PutRecord
from syncd.protocol.records import PayloadSource, Record, encode_stream
from syncd.transport.batch_items import BatchItem, DeletePath, MakeDir, PutFile
from syncd.transport.source import SourceFile, sha256_text
from syncd.transport.throttle import Throttle

HASHED_AHEAD = 1 << 20  # files up to this size are read whole first, so their record has a hash


@dataclass(eq=False)
class Pending:
    """One item on its way: where it sits in the caller's list, its size when measured."""

    index: int
    item: BatchItem
    size: int = 0
    hashes: list[str] = field(default_factory=list)  # of every attempt's bytes (puts)

    @property
    def is_retry_safe(self) -> bool:
        """A retry of this record cannot overwrite or delete anyone else's version."""
        if isinstance(self.item, MakeDir):
            return True  # idempotent; it never replaces or removes anything
        return self.item.if_revision is not None


class Dropped(Exception):
    """PROMISE 2: a put whose file could not be sent; the body was cut short."""

    def __init__(self, pending: Pending, error: SyncdError) -> None:
        super().__init__(str(error))
        self.pending = pending
        self.error = error


def body(pending: list[Pending], throttle: Throttle) -> Iterator[bytes]:
    """The record stream of ``pending``, in chunks, for one attempt."""
    return encode_stream(_records(pending, throttle))


def _records(pending: list[Pending], throttle: Throttle) -> Iterator[tuple[Record, PayloadSource]]:
    for p in pending:
        item = p.item
        if isinstance(item, DeletePath):
            yield DeleteRecord(item.path, item.if_revision), None
        elif isinstance(item, MakeDir):
            yield MkdirRecord(item.path), None
        else:
            yield from _put(p, throttle)


def _put(p: Pending, throttle: Throttle) -> Iterator[tuple[Record, PayloadSource]]:
    item = p.item
    assert isinstance(item, PutFile)
    conditions: dict[str, Any] = {}
    if item.if_revision == 0:
        conditions["if_none_match"] = True
    elif item.if_revision is not None:
        conditions["if_match"] = item.if_revision
    try:
        src = SourceFile(item.source, item.path)
    except ItemError as exc:
        raise Dropped(p, exc) from exc
    with src:
        if src.size != p.size:
            raise Dropped(p, SourceChanged(f"{item.path}: changed", path=item.path))
        if p.size <= HASHED_AHEAD:
            try:
                data = src.read_at(0, p.size)
                src.check()
            except ItemError as exc:
                raise Dropped(p, exc) from exc
            digest = sha256_text(hashlib.sha256(data))
            p.hashes.append(digest)
            throttle.consume(len(data))
            yield PutRecord(item.path, p.size, hash=digest, **conditions), data
            return
        hasher = hashlib.sha256()
        yield PutRecord(item.path, p.size, **conditions), _streamed(p, src, hasher, throttle)
        p.hashes.append(sha256_text(hasher))


def _streamed(p: Pending, src: SourceFile, hasher: Any, throttle: Throttle) -> Iterator[bytes]:
    try:
        for data in src.stream(hasher, [0]):
            throttle.consume(len(data))
            yield data
    except ItemError as exc:  # SourceChanged, or unreadable: always before the last byte
        raise Dropped(p, exc) from exc
