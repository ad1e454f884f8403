"""Batch writes (E5): many small puts, deletes and mkdirs in one request, one result each.

1. Items are typed values (``PutFile``, ``DeletePath``, ``MakeDir``); ``write`` returns one
   ``WriteResult`` per item, in order: ``APPLIED`` (with its entry), ``REFUSED`` (the typed
   error of the single request: ``PreconditionFailed``, ``PathConflict``, ``NotFound``,
   ``InvalidParameter``), ``NOT_SENT`` (its local file could not be read, or changed), or
   ``UNKNOWN`` (see 4).
2. Payloads are read from their files while the body is sent (``batch_body``); a file
   that changed cuts the body short, which a server never applies, and the batch goes
   again without it.
3. The limits of ``capabilities.batch`` and ``max_body`` are checked before anything is
   sent (``TooLarge``); ``split`` cuts a list of items into batches that fit.
4. A failure that proves the batch was not applied (refused connection, 429, 503) is
   retried. After one that may have come after the server applied it (a lost answer, a
   5xx), the batch is sent again only if every record is conditional or a mkdir: a retry
   then cannot overwrite or delete what someone else wrote, and a record refused because
   its own earlier attempt landed is recognised from a listing. Otherwise every item that
   was sent is ``UNKNOWN`` (``BatchResult.ambiguous``): the caller re-plans those paths
   from a fresh listing or feed, and never simply sends them again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from syncd.errors import (
    InvalidParameter,
    ItemError,
    NotFound,
    PreconditionFailed,
    ProtocolViolation,
    SyncdError,
    TooLarge,
    UsageError,
)
from syncd.paths import normalize
from syncd.protocol import routes
from syncd.protocol.records import MEDIA_TYPE
from syncd.transport.batch_body import Dropped, Pending, body
from syncd.transport.batch_items import (
    BatchItem,
    BatchResult,
    DeletePath,
    MakeDir,
    PutFile,
    WriteResult,
    WriteState,
)
from syncd.transport.capabilities import CapabilitiesAPI
from syncd.transport.client import Connection
from syncd.transport.errors import error_for_status, is_ambiguous, parse_json
from syncd.transport.models import BatchLimits, parse_entry
from syncd.transport.retry import Attempts

if TYPE_CHECKING:
    from syncd.transport.batch_read import BatchRead
    from syncd.transport.files import FilesAPI


@dataclass
class _Lost:
    maybe: bool = False  # an attempt failed after the server may have applied it


class BatchAPI:
    def __init__(
        self, connection: Connection, capabilities: CapabilitiesAPI, files: FilesAPI
    ) -> None:
        self._connection = connection
        self._capabilities = capabilities
        self._files = files
        self.on_written: Callable[[BatchResult], None] | None = None
        """Told every answer that came back whole for a batch sent once (never after a
        lost answer): which revision it made and what each record left."""

    @property
    def limits(self) -> BatchLimits | None:
        """The server's batch limits; None when it has no batches (E5, E6)."""
        return self._capabilities.get().batch

    def _limits(self) -> BatchLimits:
        limits = self.limits
        if limits is None:
            raise UsageError("the server offers no batch writes or reads (E5/E6)")
        return limits

    def split(self, items: Sequence[BatchItem]) -> tuple[list[list[BatchItem]], list[PutFile]]:
        """Consecutive items in batches that fit the limits, and the puts too large for any
        (send those alone with ``files.upload``). Sizes are the files' sizes now."""
        limits, max_body = self._limits(), self._capabilities.get().max_body
        batches: list[list[BatchItem]] = []
        alone: list[PutFile] = []
        current: list[BatchItem] = []
        total = 0
        for item in items:
            size = max(0, _size_now(item))  # an unreadable file goes along, to be NOT_SENT
            if isinstance(item, PutFile) and (
                size > limits.max_bytes or (max_body is not None and size > max_body)
            ):
                alone.append(item)
                continue
            if current and (len(current) >= limits.max_items or total + size > limits.max_bytes):
                batches.append(current)
                current, total = [], 0
            current.append(item)
            total += size
        return ([*batches, current] if current else batches), alone

    def write(self, workspace_id: str, items: Sequence[BatchItem]) -> BatchResult:
        """Apply ``items`` in one transaction (PROMISES 1-4)."""
        pending, results = self._prepare(items, self._limits())
        revision: int | None = None
        lost = _Lost()
        clean = False  # an answer for a batch sent once (PROMISE 4): its revision is ours
        while pending:
            try:
                answer = self._send(workspace_id, pending, lost)
                revision, outcome = self._parse(answer, pending)
            except Dropped as dropped:  # this body was cut short: none of it was applied
                p = dropped.pending
                if lost.maybe:  # ... but an earlier attempt may have been
                    results[p.index] = WriteResult(p.item, WriteState.UNKNOWN)
                else:
                    results[p.index] = WriteResult(p.item, WriteState.NOT_SENT, error=dropped.error)
                pending.remove(p)
                continue
            except SyncdError as exc:
                if not (lost.maybe or is_ambiguous(exc) or isinstance(exc, ProtocolViolation)):
                    raise  # surely not applied: the caller may simply try again later
                for p in pending:
                    results[p.index] = WriteResult(p.item, WriteState.UNKNOWN)
                break
            clean = not lost.maybe
            if lost.maybe:
                outcome = self._resolve(workspace_id, pending, outcome)
            results.update(outcome)
            break
        result = BatchResult(revision, tuple(results[i] for i in range(len(items))))
        if clean and self.on_written is not None:
            self.on_written(result)
        return result

    def read(self, workspace_id: str, paths: Sequence[str]) -> BatchRead:
        """Many files from one committed state (E6); see ``batch_read``."""
        from syncd.transport.batch_read import BatchRead

        return BatchRead(self._connection, workspace_id, paths, self._limits())

    # -- sending ----------------------------------------------------------------------

    def _prepare(
        self, items: Sequence[BatchItem], limits: BatchLimits
    ) -> tuple[list[Pending], dict[int, WriteResult]]:
        """The items to send, checked against the limits (PROMISE 3), and those that
        cannot be sent at all (a file that cannot be read now)."""
        if len(items) > limits.max_items:
            raise TooLarge(f"a batch holds at most {limits.max_items} items, not {len(items)}")
        max_body = self._capabilities.get().max_body
        pending: list[Pending] = []
        unsent: dict[int, WriteResult] = {}
        seen: set[str] = set()
        total = 0
        for index, item in enumerate(items):
            path = normalize(item.path)
            if path in seen:
                raise InvalidParameter(f"{path!r} appears twice in one batch", path=path)
            seen.add(path)
            item = replace(item, path=path)
            size = _size_now(item)
            if size < 0:
                error = ItemError(f"cannot read {item.source}", path=path)  # type: ignore[union-attr]
                unsent[index] = WriteResult(item, WriteState.NOT_SENT, error=error)
                continue
            if max_body is not None and size > max_body:
                raise TooLarge(f"{path}: {size} bytes is over the server's {max_body}", path=path)
            total += size
            pending.append(Pending(index, item, size))
        if total > limits.max_bytes:
            raise TooLarge(f"a batch carries at most {limits.max_bytes} bytes, not {total}")
        return pending, unsent

    def _send(self, workspace_id: str, pending: list[Pending], lost: _Lost) -> Any:
        """One request under the retry policy (PROMISE 4); its JSON answer."""
        is_safe = all(p.is_retry_safe for p in pending)
        states: list[Attempts] = []

        def attempt(state: Attempts) -> Any:
            states[:] = [state]
            response = self._connection.send(
                "POST",
                routes.url(routes.BATCH, workspace_id=workspace_id),
                what=f"POST batch of {len(pending)}",
                context="workspace",
                ok=(200,),
                content=lambda: body(pending, self._connection.throttle),
                headers={"Content-Type": MEDIA_TYPE},
            )
            return parse_json(response, "batch answer")

        try:
            with self._connection.slots:
                return self._connection.policy.run(attempt, what="POST batch", idempotent=is_safe)
        finally:
            lost.maybe = lost.maybe or bool(states and states[0].ambiguous)

    # -- the answer -------------------------------------------------------------------

    def _parse(self, answer: Any, pending: list[Pending]) -> tuple[int, dict[int, WriteResult]]:
        if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
            raise ProtocolViolation("batch answer: expected {revision, results}")
        revision = answer.get("revision")
        rows = answer["results"]
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
            raise ProtocolViolation("batch answer: revision is not a revision")
        if len(rows) != len(pending):
            raise ProtocolViolation(f"batch answer: {len(rows)} results for {len(pending)}")
        secret = self._connection.settings.api_key
        outcome: dict[int, WriteResult] = {}
        for p, row in zip(pending, rows, strict=True):
            item = p.item
            if not isinstance(row, dict) or row.get("path") != item.path:
                raise ProtocolViolation(f"batch answer: the result for {item.path!r} is not its")
            status = row.get("status")
            if not isinstance(status, int) or isinstance(status, bool):
                raise ProtocolViolation(f"batch answer: {item.path!r} has no status")
            if status == 200:
                entry = parse_entry(row["entry"]) if row.get("entry") is not None else None
                if entry is not None and entry.path != item.path:
                    raise ProtocolViolation(f"batch answer: the entry of {item.path!r} is not")
                outcome[p.index] = WriteResult(item, WriteState.APPLIED, entry=entry)
                continue
            code, message = row.get("error"), row.get("message")
            error = error_for_status(
                status,
                code if isinstance(code, str) else None,
                message if isinstance(message, str) else "",
                f"batch {type(item).__name__} {item.path}",
                "file",
                secret,
            )
            outcome[p.index] = WriteResult(item, WriteState.REFUSED, error=error)
        return revision, outcome

    def _resolve(
        self, workspace_id: str, pending: list[Pending], outcome: dict[int, WriteResult]
    ) -> dict[int, WriteResult]:
        """After a lost answer: a conditional record refused because its own earlier
        attempt landed counts as applied (the listing shows our bytes, or our delete)."""
        doubtful = [
            p
            for p in pending
            if isinstance(outcome[p.index].error, PreconditionFailed | NotFound)
            and not isinstance(p.item, MakeDir)
        ]
        if not doubtful:
            return outcome
        listing = {entry.path: entry for entry in self._files.list(workspace_id)}
        for p in doubtful:
            entry = listing.get(p.item.path)
            if isinstance(p.item, PutFile) and entry is not None and entry.hash in p.hashes:
                outcome[p.index] = WriteResult(p.item, WriteState.APPLIED, entry=entry)
            elif isinstance(p.item, DeletePath) and entry is None:
                outcome[p.index] = WriteResult(p.item, WriteState.APPLIED)
        return outcome


def _size_now(item: BatchItem) -> int:
    """A put's payload size as the file is now; -1 when it cannot be read."""
    if not isinstance(item, PutFile):
        return 0
    try:
        return os.stat(item.source).st_size
    except OSError:
        return -1
