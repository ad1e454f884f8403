"""One E5 batch: a group of small uploads, remote mkdirs and remote file deletes, one request.

1. Each record carries the condition its single request would carry: a put over a known
   revision ``if_match``, a put of a new file ``if_none_match: *``, a delete ``if_match``.
   A record refused with 412 or 409 re-plans that path only; the rest of the batch stands.
2. The bytes sent are the bytes hashed (the transport reads each file once, hashes it and
   cuts a file that changed under the read); such a file is re-planned, never sent torn.
3. A batch whose answer was lost after the server may have applied it (``UNKNOWN``) is never
   sent again from here: every path of it is re-planned from what the server shows then.
4. The base is built from the entry each record left (its revision and hash) and the stat
   of the local file around the send, as a single upload builds it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from syncd.errors import ItemError, Replan, SourceChanged, SyncdError
from syncd.local.hashing import StatSig
from syncd.planner import ops
from syncd.transport.batch_items import (
    BatchItem,
    DeletePath,
    MakeDir,
    PutFile,
    WriteResult,
    WriteState,
)
from syncd.worker.observed import dir_base, file_base, stat_of
from syncd.worker.ops import OpContext, run_op
from syncd.worker.outcome import Outcome, Status

log = logging.getLogger("syncd.worker")


def run_writes(ctx: OpContext, group: Sequence[ops.Op]) -> list[Outcome]:
    """Apply ``group`` (ops ``Batching.takes_write`` accepted) as E5 batches; one Outcome
    per op, in order. ``ServerRefused`` / ``ServerUnreachable`` propagate (fatal)."""
    outcomes: list[Outcome | None] = [None] * len(group)
    items: list[BatchItem] = []
    index_of: dict[str, int] = {}
    before: dict[int, StatSig] = {}
    for index, op in enumerate(group):
        item = _item(ctx, op)
        if isinstance(op, ops.Upload):
            sig = stat_of(item.source)  # type: ignore[union-attr]
            if sig is None:
                outcomes[index] = Outcome(op, Status.REPLAN, detail=f"{op.path}: vanished")
                continue
            before[index] = sig
        items.append(item)
        index_of[item.path] = index
    try:
        batches, alone = ctx.client.batch.split(items) if items else ([], [])
        for put in alone:  # grew past what one batch may carry: sent on its own
            index = index_of[put.path]
            outcomes[index] = run_op(ctx, group[index])
        for batch in batches:
            answer = ctx.client.batch.write(ctx.workspace_id, batch)
            for result in answer.results:
                index = index_of[result.item.path]
                outcomes[index] = _outcome(ctx, group[index], result, before.get(index))
    except Replan as exc:  # the whole request refused in a way that calls for a re-plan
        _fill(outcomes, group, Status.REPLAN, str(exc))
    except ItemError as exc:  # refused as a whole (a limit, a malformed batch)
        _fill(outcomes, group, Status.FAILED, str(exc))
    _fill(outcomes, group, Status.REPLAN, "not sent")
    return [o for o in outcomes if o is not None]


def _item(ctx: OpContext, op: ops.Op) -> BatchItem:
    if isinstance(op, ops.Upload):
        revision = op.remote.revision if op.remote is not None else 0
        return PutFile(op.path, ctx.local_path(op.path, op.local), if_revision=revision)
    if isinstance(op, ops.DeleteRemote):
        assert op.remote is not None
        return DeletePath(op.path, if_revision=op.remote.revision)
    assert isinstance(op, ops.MkdirRemote)
    return MakeDir(op.path)


def _fill(outcomes: list[Outcome | None], group: Sequence[ops.Op], status: Status, why: str):
    for index, outcome in enumerate(outcomes):
        if outcome is None:
            outcomes[index] = Outcome(group[index], status, detail=why)


def _outcome(ctx: OpContext, op: ops.Op, result: WriteResult, before: StatSig | None) -> Outcome:
    if result.state is WriteState.APPLIED:
        return _applied(ctx, op, result, before)
    detail = _detail(op, result.error)
    if result.state is WriteState.UNKNOWN:
        return Outcome(op, Status.REPLAN, detail=f"{op.path}: the answer was lost")
    if result.state is WriteState.NOT_SENT:
        error = result.error
        gone = isinstance(result.item, PutFile) and stat_of(result.item.source) is None
        if isinstance(error, SourceChanged) or gone:
            return Outcome(op, Status.REPLAN, detail=detail)
        return Outcome(op, Status.FAILED, detail=detail)
    if isinstance(result.error, Replan):  # 412, 409: the server moved on; plan it again
        return Outcome(op, Status.REPLAN, detail=detail)
    if isinstance(op, ops.DeleteRemote):  # 404: gone already; the next plan forgets it
        return Outcome(op, Status.REPLAN, detail=detail)
    return Outcome(op, Status.FAILED, detail=detail)


def _detail(op: ops.Op, error: SyncdError | None) -> str:
    return str(error) if error is not None else f"{op.path}: not applied"


def _applied(ctx: OpContext, op: ops.Op, result: WriteResult, before: StatSig | None) -> Outcome:
    entry = result.entry
    if isinstance(op, ops.DeleteRemote):
        return Outcome(op, Status.DONE, base_drop=[op.path])
    if isinstance(op, ops.MkdirRemote):
        remote = entry.to_remote_node() if entry is not None else None
        sig = stat_of(ctx.local_path(op.path))
        return Outcome(op, Status.DONE, base_put=[dir_base(op.path, remote, sig=sig)])
    if entry is None or entry.hash is None or entry.size is None:
        # Applied, but the answer does not say what it holds: learn it from the next plan.
        return Outcome(op, Status.REPLAN, detail=f"{op.path}: no entry in the batch answer")
    source = result.item.source  # type: ignore[union-attr]
    after = stat_of(source)
    sig = before if after == before else None  # a write that raced the send: compare later
    base = file_base(op.path, entry.size, entry.hash, sig, entry.to_remote_node())
    report_file(ctx, op.path, entry.size)
    return Outcome(op, Status.DONE, bytes=entry.size, base_put=[base])


def report_file(ctx: OpContext, path: str, size: int) -> None:
    """Tell the progress display about one file of a batch, once it is through."""
    progress = ctx.transfer_progress()
    if progress is None:
        return
    progress.start(path, size)
    progress.advance(size)
    progress.finish()
