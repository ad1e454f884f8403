"""Run a Plan's ops in order, with several transfers in flight where order does not matter.

1. Ops run in plan order, except that a run of consecutive transfers (uploads, downloads,
   conflict copies, base records) on distinct paths goes to a thread pool of ``transfers``
   workers: the planner puts parents, moves and deletes before and after such runs.
2. Every op is journalled as started before it acts and as done after, so a crash leaves a
   trace of what may be half-done; the next sync re-plans from observed facts.
3. Base changes are written by this thread only, in batches: a crash between an effect and
   its base write costs at most a hash comparison next time, never a wrong delete.
4. ``ServerRefused`` and ``ServerUnreachable`` stop the run (the rest would fail the same
   way); per-item errors and re-plans do not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from syncd.planner import ops
from syncd.worker.ops import Context, run_op
from syncd.worker.outcome import Outcome, Status

if TYPE_CHECKING:
    from syncd.state.journal import Journal
    from syncd.state.store import Store

log = logging.getLogger("syncd.worker")

PARALLEL = (ops.Upload, ops.Download, ops.KeepBoth, ops.RecordBase)
BATCH = 200


def _runs(plan_ops: Iterable[ops.Op]) -> Iterator[tuple[bool, list[ops.Op]]]:
    """Split ops into runs of one kind: (is_parallel, ops). Order across runs is kept."""
    run: list[ops.Op] = []
    kind: type | None = None
    for op in plan_ops:
        op_kind = "parallel" if isinstance(op, PARALLEL) else type(op)
        if run and op_kind != kind:
            yield kind == "parallel", run
            run = []
        kind = op_kind
        run.append(op)
    if run:
        yield kind == "parallel", run


class Worker:
    """Executes plans through the op executors; hands each Outcome to ``on_outcome``."""

    def __init__(
        self,
        ctx: Context,
        store: Store,
        journal: Journal | None = None,
        *,
        transfers: int = 4,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.store = store
        self.journal = journal
        self.transfers = max(1, transfers)
        self.on_outcome = on_outcome
        self._pending: list[Outcome] = []

    def execute(self, plan_ops: Iterable[ops.Op]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(self.transfers, thread_name_prefix="syncd-transfer") as pool:
            try:
                for is_parallel, run in _runs(plan_ops):
                    entries = self._start(run)
                    if is_parallel and len(run) > 1:
                        outcomes.extend(self._parallel(pool, run, entries))
                        continue
                    for op, entry in zip(run, entries, strict=True):
                        outcomes.append(self._record(run_op(self.ctx, op), entry))
            finally:
                self._flush()
        return outcomes

    def _start(self, run: list[ops.Op]) -> list[int | None]:
        """Journal a whole run as started in one commit (one fsync), then log each op."""
        for op in run:
            log.info("%s", ops.describe(op))
        if self.journal is None:
            return [None] * len(run)
        return list(self.journal.begin_many(run))

    def _parallel(
        self, pool: ThreadPoolExecutor, run: list[ops.Op], entries: list[int | None]
    ) -> list[Outcome]:
        results: list[Outcome] = []
        futures: dict[Future[Outcome], int | None] = {}
        queue = list(reversed(list(zip(run, entries, strict=True))))
        limit = self.transfers * 2
        error: BaseException | None = None
        while queue or futures:
            while queue and len(futures) < limit and error is None:
                op, entry = queue.pop()
                futures[pool.submit(run_op, self.ctx, op)] = entry
            if not futures:
                break
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                entry = futures.pop(future)
                try:
                    results.append(self._record(future.result(), entry))
                except BaseException as exc:  # fatal: stop submitting, drain, re-raise
                    error = error or exc
        if error is not None:
            raise error
        return results

    def _record(self, outcome: Outcome, entry: int | None) -> Outcome:
        if self.journal is not None and entry is not None:
            if outcome.status is Status.DONE:
                self.journal.done(entry)
            else:
                self.journal.failed(entry, outcome.detail)
        if outcome.status is not Status.DONE:
            log.warning(
                "op=%s path=%s status=%s detail=%s",
                type(outcome.op).__name__,
                outcome.path,
                outcome.status,
                outcome.detail,
            )
        self._pending.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        if len(self._pending) >= BATCH:
            self._flush()
        return outcome

    def _flush(self) -> None:
        """Write the observed base changes of finished ops in one transaction."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        with self.store.transaction():
            for outcome in pending:
                if outcome.status is not Status.DONE:
                    continue
                if outcome.base_move is not None:
                    self.store.move_base(*outcome.base_move)
                if outcome.base_drop:
                    self.store.drop_base(outcome.base_drop, subtree=True)
                if outcome.base_put:
                    self.store.put_base(outcome.base_put)
                if outcome.conflict is not None:
                    self.store.conflicts.add(outcome.path, outcome.conflict)
