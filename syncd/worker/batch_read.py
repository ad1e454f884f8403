"""One E6 batch: a group of small downloads in one answer, made durable together.

1. Each file is checked before it is kept: the transport checks the size and hash of its
   record, and the record must be the version the plan saw (size and hash); another
   version, or none, re-plans that path. Nothing is installed from a broken answer: an item
   cut short comes again from the transport's next request.
2. Each file is written to a temp name beside its target and installed through the same
   checks as a single download (``write.install``: the target must still be what the plan
   saw, an old version goes to the trash first), never over a local edit.
3. Durability is per batch (``local/durable.py``): the files' bytes, then the renames,
   each step one ``syncfs`` where that is cheap and as strong, else one fsync per file and
   one per distinct folder; only after both is any file reported done, so the base never
   records a file that a power cut could take back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from syncd.errors import ConnectionLost, ItemError, NotFound, Replan, SyncdError
from syncd.local import write
from syncd.local.durable import Backlog, GroupSync
from syncd.local.hashing import StatSig
from syncd.local.space import LowDiskSpace, for_path
from syncd.local.trash import make_dirs_durably
from syncd.planner import ops
from syncd.transport.batch_read import ReadItem
from syncd.transport.models import Entry
from syncd.worker.batch_write import report_file
from syncd.worker.observed import file_base
from syncd.worker.ops import OpContext
from syncd.worker.outcome import Outcome, Status

log = logging.getLogger("syncd.worker")


def run_reads(
    ctx: OpContext, group: Sequence[ops.Download], backlog: Backlog | None = None
) -> list[Outcome]:
    """Fetch ``group`` (ops ``Batching.takes_read`` accepted) in one E6 read; one Outcome
    per op, in order. ``backlog``: the run's other groups, for the choice of syncfs.
    ``ServerRefused`` / ``ServerUnreachable`` propagate (fatal)."""
    targets = [ctx.local_path(op.path, op.local) for op in group]
    total = sum(op.remote.size or 0 for op in group if op.remote is not None)
    what = f"with its batch of {len(group)} files" if len(group) > 1 else None
    with ExitStack() as held:
        try:  # the whole batch counts against min_free_space, before any temp file exists
            held.enter_context(ctx.claim_space(targets[0], total, path=group[0].path, what=what))
        except LowDiskSpace as exc:
            return [Outcome(op, Status.FAILED, error=for_path(exc, op.path)) for op in group]
        files = backlog.files_for(len(group)) if backlog is not None else len(group)
        return _read(ctx, group, targets, held, files)


def _read(
    ctx: OpContext,
    group: Sequence[ops.Download],
    targets: list[Path],
    held: ExitStack,
    files: int,
) -> list[Outcome]:
    outcomes: dict[int, Outcome] = {}
    index_of = {op.path: index for index, op in enumerate(group)}
    fetched: dict[int, tuple[Path, Entry]] = {}
    try:
        for folder in sorted({target.parent for target in targets}):
            make_dirs_durably(folder)
        durable = held.enter_context(GroupSync.open(ctx.root, files=files))  # before any write
        with ctx.client.batch.read(ctx.workspace_id, [op.path for op in group]) as items:
            for item in items:
                index = index_of[item.path]
                _forget(fetched, outcomes, index)  # an item cut short comes again
                got = _fetch(group[index], targets[index], item)
                if isinstance(got, Outcome):
                    outcomes[index] = got
                elif got is not None:
                    fetched[index] = got
        outcomes.update(_install(ctx, group, targets, fetched, durable))
    except (Replan, ItemError) as exc:  # the whole read refused (a limit, a bad answer)
        for index, op in enumerate(group):
            status = Status.REPLAN if isinstance(exc, Replan) else Status.FAILED
            outcomes.setdefault(index, Outcome(op, status, detail=str(exc)))
    finally:
        for temp, _entry in fetched.values():
            temp.unlink(missing_ok=True)  # installed ones were renamed away
    return [
        outcomes.get(i) or Outcome(op, Status.REPLAN, detail=f"{op.path}: not in the answer")
        for i, op in enumerate(group)
    ]


def _forget(fetched: dict[int, tuple[Path, Entry]], outcomes: dict[int, Outcome], index: int):
    outcomes.pop(index, None)
    earlier = fetched.pop(index, None)
    if earlier is not None:
        earlier[0].unlink(missing_ok=True)


def _fetch(op: ops.Download, target: Path, item: ReadItem) -> tuple[Path, Entry] | Outcome | None:
    """Write one item to a temp file; an Outcome when it cannot be used, None when it was
    cut short (the transport asks for it again)."""
    remote = op.remote
    assert remote is not None
    entry = item.entry
    if entry is None:
        return _refused(op, item.error)
    if (entry.size, entry.hash) != (remote.size, remote.hash):
        why = f"{op.path}: changed on the server since it was listed"
        return Outcome(op, Status.REPLAN, detail=why)
    try:
        temp = write.write_temp(target, item.chunks(), rel_path=op.path)
    except ConnectionLost:
        return None
    except (Replan, ItemError) as exc:  # a body that is not its record; a local write error
        return Outcome(op, Status.FAILED, detail=str(exc))
    return temp, entry


def _refused(op: ops.Download, error: SyncdError | None) -> Outcome:
    """No content for this path: gone or a folder now (re-plan), or a bad record."""
    if isinstance(error, NotFound | Replan):
        return Outcome(op, Status.REPLAN, detail=str(error))
    return Outcome(op, Status.FAILED, detail=str(error or f"{op.path}: no content"))


def _install(
    ctx: OpContext,
    group: Sequence[ops.Download],
    targets: list[Path],
    fetched: dict[int, tuple[Path, Entry]],
    durable: GroupSync,
) -> dict[int, Outcome]:
    """PROMISES 2 and 3: the files durable, install each, the folders durable, report."""
    outcomes: dict[int, Outcome] = {}
    index_of = {group[index].path: index for index in fetched}
    for rel_path, exc in durable.files((fetched[i][0], group[i].path) for i in fetched):
        index = index_of[rel_path]
        outcomes[index] = Outcome(group[index], Status.FAILED, detail=str(exc))
        temp, _entry = fetched.pop(index)
        temp.unlink(missing_ok=True)
    folders: set[Path] = set()
    installed: list[tuple[int, StatSig, Entry]] = []
    for index in list(fetched):
        op, (temp, entry) = group[index], fetched.pop(index)
        try:
            sig = write.install(
                temp,
                targets[index],
                expected=op.local,
                expected_hash=entry.hash,
                verified_hash=entry.hash,  # checked by the transport, fsynced above
                trash=ctx.trash,
                rel_path=op.path,
                folders=folders,
            )
        except (Replan, ItemError) as exc:  # the target moved on, or a disk error
            temp.unlink(missing_ok=True)  # where it was not renamed into place
            status = Status.REPLAN if isinstance(exc, Replan) else Status.FAILED
            outcomes[index] = Outcome(op, status, detail=str(exc))
            continue
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        installed.append((index, sig, entry))
    durable.folders(folders)
    for index, sig, entry in installed:
        op = group[index]
        base = file_base(op.path, entry.size or 0, entry.hash, sig, entry.to_remote_node())
        report_file(ctx, op.path, entry.size or 0)
        outcomes[index] = Outcome(op, Status.DONE, bytes=entry.size or 0, base_put=[base])
    return outcomes
