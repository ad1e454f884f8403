"""E5 batch writes, without HTTP: take the record stream in whole, then apply it at once.

1. ``receive`` reads the whole stream before anything is applied, so a malformed stream
   or a limit (400, 413) changes nothing. Payloads are hashed as they arrive; small ones
   stay in memory (``MEMORY`` bytes per batch at most), the others are spooled to temp
   files of the blob store and fsynced. A payload that does not match its declared hash
   is refused on its own (400), like a commit of E3.
2. ``commit`` places the spooled blobs first (their fsyncs outside the write lock, as a
   PUT does), then runs ``apply`` as one mutation of the group commit: one transaction,
   one durable commit. It returns only once that commit is on disk.
3. ``apply`` issues the batch's one revision first (which also checks the workspace, so
   another account's is 404 for the whole request), then reads the rows the batch touches
   at once, decides every record in memory with the single request's checks and errors
   (``batch_tree``; a refusal fails that record alone), and writes the net change of the
   entries, tombstones and blob references with one statement per kind (``batch_refs``).
   When no record changed anything, the revision is rolled back too.
4. Blobs placed for records that were refused, or whose entry the batch itself deleted
   again, are removed again; ``freed`` says whether the batch dropped a last reference,
   so the caller has blobs collected.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import Connection, Row, text

from syncd.protocol.batch import DeleteRecord, MkdirRecord, PutRecord, WriteRecord, parse_write
from syncd.protocol.records import Limits, RecordDecoder
from syncd.protocol.streams import aiter_records
from syncd.server import batch_refs, entries, storage
from syncd.server.batch_tree import TreeView
from syncd.server.blobs import INLINE_MAX, Blobs, TempBlob
from syncd.server.compiled import Compiled
from syncd.server.db import Database
from syncd.server.service.errors import InvalidParameter, ServerError, shared_rules
from syncd.server.timefmt import now_iso

MEMORY = 8 << 20  # small payloads of one batch kept in memory; past it they are spooled
Runner = Callable[..., Awaitable[Any]]  # ``ServerContext.run``: a function on a worker thread


@dataclass(eq=False)
class Staged:
    """One record as received: its payload in memory or in a temp file, and its hash."""

    record: WriteRecord
    data: bytes | None = None
    temp: TempBlob | None = None
    digest: str | None = None  # sha256 hex of the payload of a put
    refusal: ServerError | None = None  # refused before the transaction (hash mismatch)


@dataclass(frozen=True, slots=True)
class Result:
    """What one record came to: its entry (put, mkdir), or the error of the single request."""

    path: str
    entry: Row | entries.Entry | None = None
    error: ServerError | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    revision: int  # the workspace's revision after the batch
    results: list[Result]
    changed: bool  # a revision was issued
    freed: bool  # some blob lost its last reference
    referenced: frozenset[str] = frozenset()  # hashes that gained references


async def receive(
    chunks: AsyncIterable[bytes], blobs: Blobs, limits: Limits, run: Runner
) -> list[Staged]:
    """Every record of the stream with its payload (PROMISE 1); temp files on any refusal
    are removed before the error goes on."""
    staged: list[Staged] = []
    held = 0
    try:
        with shared_rules():  # a malformed stream or a limit: 400, 413
            decoder = RecordDecoder(parse_write, limits)
            async for record, payload in aiter_records(chunks, decoder, whole=INLINE_MAX):
                item = Staged(record)
                staged.append(item)
                if not isinstance(record, PutRecord):
                    continue
                if payload.data is not None and held + record.size <= MEMORY:
                    held += record.size
                    item.data = payload.data
                    item.digest = hashlib.sha256(payload.data).hexdigest()
                else:
                    item.temp = blobs.temp()
                    async for chunk in payload:
                        item.temp.write(chunk)
                    item.digest = await run(item.temp.finish)
                if record.hash is not None and record.hash != f"sha256:{item.digest}":
                    item.refusal = InvalidParameter("the bytes do not match the declared hash")
                    if item.temp is not None:
                        item.temp.discard()
                        item.temp = None
    except BaseException:
        discard(staged)
        raise
    return staged


def discard(staged: list[Staged]) -> None:
    """Remove what is left of the temp files (``publishing`` removed those it placed)."""
    for item in staged:
        if item.temp is not None:
            item.temp.discard()


async def commit(
    db: Database,
    blobs: Blobs,
    staged: list[Staged],
    run: Runner,
    *,
    workspace_id: str,
    account_id: str,
    history: int | None,
) -> BatchOutcome:
    """Place the spooled blobs, apply everything in one group commit (PROMISES 2 and 4)."""
    mutation = partial(
        apply,
        blobs=blobs,
        staged=staged,
        workspace_id=workspace_id,
        account_id=account_id,
        history=history,
    )
    if not any(_is_placed(item) for item in staged):
        return await db.submit(mutation)  # nothing to place: no worker thread needed
    return await run(_commit_placed, db, blobs, staged, mutation)


def _is_placed(item: Staged) -> bool:
    return item.temp is not None and item.refusal is None


def _commit_placed(
    db: Database,
    blobs: Blobs,
    staged: list[Staged],
    mutation: Callable[[Connection], BatchOutcome],
) -> BatchOutcome:
    placed = [index for index, item in enumerate(staged) if _is_placed(item)]
    with ExitStack() as stack:
        for index in placed:
            item = staged[index]
            assert item.temp is not None and item.digest is not None
            stack.enter_context(blobs.publishing(db, item.temp.path, item.digest))
        outcome = db.grouped(mutation)
    refused = [  # refused, or deleted again by a later record of the batch
        (staged[i].digest, staged[i].record.size)
        for i in placed
        if staged[i].digest not in outcome.referenced
    ]
    if refused:
        blobs.discard_unreferenced(db, refused)  # type: ignore[arg-type]
    return outcome


class _Savepoint:
    """A named savepoint, issued on the DBAPI cursor like the group commit's own."""

    def __init__(self, name: str) -> None:
        self._begin = Compiled(text(f"SAVEPOINT {name}"))
        self._rollback = Compiled(text(f"ROLLBACK TO SAVEPOINT {name}"))
        self._release = Compiled(text(f"RELEASE SAVEPOINT {name}"))

    def begin(self, conn: Connection) -> None:
        self._begin.run(conn, {})

    def rollback(self, conn: Connection) -> None:
        self._rollback.run(conn, {})
        self._release.run(conn, {})

    def release(self, conn: Connection) -> None:
        self._release.run(conn, {})


_BATCH = _Savepoint("batch")


def apply(
    conn: Connection,
    *,
    blobs: Blobs,
    staged: list[Staged],
    workspace_id: str,
    account_id: str,
    history: int | None,
) -> BatchOutcome:
    """The batch as one mutation (PROMISE 3); one result per record, in order."""
    _BATCH.begin(conn)
    try:
        revision = storage.bump(conn, workspace_id, history, account_id)
        live = [item for item in staged if item.refusal is None]
        view = TreeView.read(
            conn, workspace_id, [item.record.path for item in live], revision, now_iso()
        )
        results: list[Result] = []
        sources: dict[str, batch_refs.Source] = {}
        changed = False
        for item in staged:
            if item.refusal is not None:
                results.append(Result(item.record.path, error=item.refusal))
                continue
            try:
                entry, did_change = _apply_one(view, item)
            except ServerError as exc:  # this record's refusal; the others go on
                results.append(Result(item.record.path, error=exc))
                continue
            results.append(Result(item.record.path, entry=entry))
            changed = changed or did_change
            if isinstance(item.record, PutRecord) and item.digest not in sources:
                sources[item.digest] = _source(item)  # type: ignore[index]
        freed = False
        referenced: frozenset[str] = frozenset()
        if changed:
            deltas = view.write(conn)
            freed = batch_refs.count(conn, blobs, deltas, sources)
            referenced = frozenset(digest for digest, delta in deltas.items() if delta > 0)
    except BaseException:
        _BATCH.rollback(conn)
        raise
    if not changed:
        _BATCH.rollback(conn)  # nothing changed: no revision either
        revision = storage.get_workspace(conn, account_id, workspace_id).revision
    else:
        _BATCH.release(conn)
    return BatchOutcome(revision, results, changed, freed, referenced)


def _source(item: Staged) -> batch_refs.Source:
    copy = item.temp.path if item.temp is not None else None
    return batch_refs.Source(item.record.size, data=item.data, copy=copy)  # type: ignore[union-attr]


def _apply_one(view: TreeView, item: Staged) -> tuple[entries.Entry | None, bool]:
    """One record on the view, as the single request would run it: (entry, changed)."""
    record = item.record
    if isinstance(record, PutRecord):
        assert item.digest is not None
        condition = entries.Condition(if_match=record.if_match, must_not_exist=record.if_none_match)
        return view.put(record.path, item.digest, record.size, condition), True
    if isinstance(record, DeleteRecord):
        view.delete(record.path, entries.Condition(if_match=record.if_match))
        return None, True
    assert isinstance(record, MkdirRecord)
    return view.mkdir(record.path)
