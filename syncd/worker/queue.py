"""Run a Plan phase by phase, the ops of one phase in parallel and, where they can, batched.

1. Phases run in the plan's order (``Plan.phases``: parents before children, moves one at
   a time, transfers, then deletes); the next phase starts only when every op of the one
   before has an Outcome. Within a phase the ops touch disjoint paths, so its units
   (``phases.cut``: single ops, E5 write batches, E6 read batches) go to a thread pool of
   ``transfers`` workers in any order.
2. Every op of a phase is journalled as started, in one commit, before any of it acts,
   and as done or failed after, so a crash leaves a trace of what may be half-done; the
   next sync re-plans from observed facts. Its log lines (one per op) come before any
   outcome of the phase, written while the phase's first units run.
3. Base changes are written by this thread only, with the journal's completions of the
   same ops, in one transaction per ``FLUSH_OPS`` finished ops (and at the end): one
   commit per thousand files, not two per batch. A crash between an effect and its base
   write costs at most a hash comparison next time, never a wrong delete.
4. ``ServerRefused`` and ``ServerUnreachable`` stop the run (the rest would fail the same
   way); per-item errors and re-plans do not. Every op gets one Outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from syncd.local.durable import Backlog
from syncd.planner import ops
from syncd.worker.batch_read import run_reads
from syncd.worker.batch_write import run_writes
from syncd.worker.ops import OpContext, run_op
from syncd.worker.outcome import Outcome, Status
from syncd.worker.phases import Unit, UnitKind, cut

if TYPE_CHECKING:
    from syncd.state.journal import Journal
    from syncd.state.store import Store

log = logging.getLogger("syncd.worker")

FLUSH_OPS = 1000  # finished ops whose base rows and journal completions share one commit


def _phases(plan: ops.Plan | Iterable[ops.Op]) -> Iterable[Sequence[ops.Op]]:
    """A Plan's phases; a bare sequence of ops runs one op per phase, in order."""
    if isinstance(plan, ops.Plan):
        return plan.phases
    return [(op,) for op in plan]


class Worker:
    """Executes plans through the op executors; hands each Outcome to ``on_outcome``."""

    def __init__(
        self,
        ctx: OpContext,
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
        self._pending: list[tuple[Outcome, int | None]] = []  # with their journal entry

    def execute(self, plan: ops.Plan | Iterable[ops.Op]) -> list[Outcome]:
        """Run every phase of ``plan`` (PROMISES 1-4); one Outcome per op."""
        outcomes: list[Outcome] = []
        with ThreadPoolExecutor(self.transfers, thread_name_prefix="syncd-transfer") as pool:
            try:
                for phase in _phases(plan):
                    outcomes.extend(self._phase(pool, tuple(phase)))
            finally:
                self._flush()
        return outcomes

    def _phase(self, pool: ThreadPoolExecutor, phase: tuple[ops.Op, ...]) -> list[Outcome]:
        entries = self._start(phase)
        units = cut(phase, self.ctx.batching, self.ctx.links)
        results: list[Outcome] = []
        inline = [u for u in units if u.kind is UnitKind.INLINE]
        work = [u for u in units if u.kind is not UnitKind.INLINE]
        reads = sum(len(u.indices) for u in work if u.kind is UnitKind.READ)
        backlog = Backlog(reads)  # the phase's batch reads choose their syncfs together
        if len(work) <= 1:
            self._log(phase)
            for unit in inline:  # state only: no reason to wait for a thread
                results += self._record(unit, phase, entries, self._run(unit, phase, backlog))
            for unit in work:
                results += self._record(unit, phase, entries, self._run(unit, phase, backlog))
            return results
        futures: dict[Future[list[Outcome]], Unit] = {}
        queue = list(reversed(work))
        limit = self.transfers * 2
        error: BaseException | None = None
        while queue and len(futures) < limit:
            unit = queue.pop()
            futures[pool.submit(self._run, unit, phase, backlog)] = unit
        try:  # while the first units run: the phase's lines, then its state-only ops
            self._log(phase)
            for unit in inline:
                results += self._record(unit, phase, entries, self._run(unit, phase, backlog))
        except BaseException as exc:  # fatal: submit no more, drain, re-raise
            error = exc
        while queue or futures:
            while queue and len(futures) < limit and error is None:
                unit = queue.pop()
                futures[pool.submit(self._run, unit, phase, backlog)] = unit
            if not futures:
                break
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                unit = futures.pop(future)
                try:
                    results += self._record(unit, phase, entries, future.result())
                except BaseException as exc:  # fatal: stop submitting, drain, re-raise
                    error = error or exc
        if error is not None:
            raise error
        return results

    def _run(self, unit: Unit, phase: tuple[ops.Op, ...], backlog: Backlog) -> list[Outcome]:
        """The Outcomes of one unit, in the order of its indices."""
        group = [phase[i] for i in unit.indices]
        if unit.kind is UnitKind.WRITE:
            return run_writes(self.ctx, group)
        if unit.kind is UnitKind.READ:
            return run_reads(self.ctx, group, backlog)  # type: ignore[arg-type]
        return [run_op(self.ctx, group[0])]

    def _start(self, phase: tuple[ops.Op, ...]) -> list[int | None]:
        """Journal a whole phase as started in one commit (one fsync)."""
        if self.journal is None:
            return [None] * len(phase)
        return list(self.journal.begin_many(phase))

    def _log(self, phase: tuple[ops.Op, ...]) -> None:
        """One line per op, the trace a user reads: written before any outcome of the
        phase, while its first units already run (5,000 lines are ~0.1 s of this thread),
        and not even formatted when no handler would show it."""
        if log.isEnabledFor(logging.INFO):
            for op in phase:
                log.info("%s", ops.describe(op))

    def _record(
        self,
        unit: Unit,
        phase: tuple[ops.Op, ...],
        entries: list[int | None],
        outcomes: list[Outcome],
    ) -> list[Outcome]:
        """Hand on the outcomes of one unit; their base rows and journal completions are
        written with those of other units, once ``FLUSH_OPS`` are waiting (PROMISE 3)."""
        for index, outcome in zip(unit.indices, outcomes, strict=True):
            outcome.op = phase[index]
            self._finish(outcome, entries[index])
        if len(self._pending) >= FLUSH_OPS:
            self._flush()
        return outcomes

    def _finish(self, outcome: Outcome, entry: int | None) -> None:
        if outcome.status is not Status.DONE:
            log.warning(
                "op=%s path=%s status=%s detail=%s",
                type(outcome.op).__name__,
                outcome.path,
                outcome.status,
                outcome.detail,
            )
        self._pending.append((outcome, entry))
        if self.on_outcome is not None:
            self.on_outcome(outcome)

    def _flush(self) -> None:
        """Write the observed base changes of finished ops, and their journal completions,
        in one transaction."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        puts: list = []  # consecutive rows to put go in one statement, in their order
        with self.store.transaction():
            if self.journal is not None:
                self.journal.finish_many(
                    (entry, None if outcome.status is Status.DONE else _why(outcome))
                    for outcome, entry in pending
                    if entry is not None
                )
            for outcome, _entry in pending:
                if outcome.status is not Status.DONE:
                    continue
                if puts and (outcome.base_move is not None or outcome.base_drop):
                    self.store.put_base(puts)
                    puts = []
                if outcome.base_move is not None:
                    self.store.move_base(*outcome.base_move)
                if outcome.base_drop:
                    self.store.drop_base(outcome.base_drop, subtree=True)
                puts += outcome.base_put
                if outcome.conflict is not None:
                    self.store.conflicts.add(outcome.path, outcome.conflict)
            if puts:
                self.store.put_base(puts)


def _why(outcome: Outcome) -> str:
    """The journal's reason for an op that did not end done: never None, which means done."""
    return outcome.detail or str(outcome.status)
