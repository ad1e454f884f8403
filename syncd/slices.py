"""A full sync of a tree of any size in bounded memory: walk, compare in SQL, run in slices.

The engine's rounds (``Engine.run_rounds``) plan and run one scope at a time; this module
hands them the slices of a full sync, real or dry. It is used where the mirror is in the
state (``Engine.can_slice``); a sync against a base-only server holds its trees whole.

1. The folder is walked once (stat only) into ``scan_rows`` as the walk goes (only what
   changed since the last walk is written), the change feed is followed into the
   mirror, and SQL queues the paths where walk, base and mirror disagree
   (``ScanRows.queue_dirty``), comparing only the paths written since they last agreed.
   Only those are planned: an unchanged path costs its ``lstat`` and a comparison with
   its stored row, never a Python object or a join.
2. The queue is cut into slices (``syncd.planner.slicing``), each one scoped round of
   the engine: a scan of those paths, their mirror and base rows, the pure planner, the
   worker and its journal. Each slice reads fresh facts, so it sees what the slices
   before it wrote (a conflict copy, a moved folder) as the one-pass engine would.
3. Moves whose ends lie in different parts of the tree are paired in SQL (a local move
   by inode, a remote one by content hash), widened to the outermost folder gone and the
   outermost folder new, and each pair's ends are planned in one slice.
4. The mass-delete guard judges the whole sync before any slice runs: from SQL bounds
   when they cannot reach the limits (nearly always), else by planning every slice
   without running it and counting what the plans would delete. Once judged, the slices
   run with the consent of that judgement (``Engine.consent``).
5. A first sync stays a merge in every slice: the merge flag is set before the first
   slice and cleared by ``Engine.finish`` only when the whole sync succeeded. Each
   slice's results are in the base (and its hashes in the cache) as soon as it ran, so
   a sync killed between slices resumes with what is left: nothing is hashed or sent
   twice.
6. The report keeps counts, failures, conflicts and the last changes of each slice, not
   its outcomes (``Report.fold``): it does not grow with the tree.
7. A folder this device excludes (``syncd exclude``) is planned whole while the disk or
   the base still holds something under it (its synced copy goes to the trash); once
   both are empty, what only the server holds there is not planned at all.
8. A dry run goes in the same slices, each planned and none run: it prints the plan the
   real run would make, one slice's ops held at a time, and is refused (exit 5) exactly
   when the real run would be (``plan_slices`` says why planning the slices on the facts
   before the sync gives the real run's plans).
9. On a disk that folds case, names that fold together (``Readme`` and ``README``) are
   found in SQL (``syncd.state.fold_clashes``) and planned in one slice, as the ends of
   a far move are: the planner renames one of them only with both in view. A disk that
   folds Unicode spelling alone needs nothing: every tree is keyed by NFC already.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from syncd.paths import ancestors, is_within_any
from syncd.planner import guards, ops, slicing
from syncd.report import Report
from syncd.scope import exact
from syncd.state import fold_clashes
from syncd.state.schema import MetaKey

if TYPE_CHECKING:
    from syncd.planner.trees import LocalNode, RemoteNode
    from syncd.reconciler import Engine
    from syncd.state.store import Store

log = logging.getLogger("syncd.reconciler")

SAMPLE = 1_000  # deleted paths a refusal names (it counts them all)


def sync_in_slices(engine: Engine, report: Report, *, dry_run: bool = False) -> None:
    """One full sync in slices (promises 1-6), or its dry run (promise 8); the caller
    runs ``Engine.finish`` after a real one."""
    store = engine.store
    walked = engine.local.walk()
    if not dry_run:
        engine.local.tidy(walked)  # our stale temp files; a walk hashes nothing
    report.problems.extend((p.path, p.reason) for p in walked.problems)
    report.skipped.extend((p.path, p.reason) for p in walked.skipped)
    engine.links = dict(walked.links)
    engine.remote_tree(report, set())  # follow the feed into the mirror; no tree is read
    report.remote_changed = set()  # all in the mirror: the queue below holds what matters
    if not store.has_base() and not store.meta.is_merge_pending():
        store.meta.set(MetaKey.MERGE_PENDING, "1")  # promise 5
    queued = store.scan_rows.queue_dirty()
    groups = move_groups(store, folds_case=engine.folds_case)
    excluded = engine.excluded()
    first = {exact(t.path) for t in walked.twins}  # renamed beside their name first
    first |= {rule for rule in excluded if store.scan_rows.holds_under(rule)}  # promise 7
    log.info("event=slices_planned changed=%d moves=%d", queued, len(groups))
    if dry_run:
        plan_slices(engine, report, _with_first(first, _slices(engine, groups, excluded)))
        return
    judge_deletes(engine, report, groups, excluded)
    engine.consent = True
    try:
        slices = _slices(engine, groups, excluded)
        for index, scope in enumerate(_with_first(first, slices)):
            engine.run_rounds(report, scope=scope)
            store.item_errors.clear(report.fold())
            report.remote_changed = set()  # later changes: in the mirror for the next pass
            log.info("event=slice index=%d paths=%d", index, len(scope))
    finally:
        engine.consent = False
    store.scan_rows.settle()  # the next no-op then compares nothing the slices settled
    report.problems = list(dict.fromkeys(report.problems))
    report.skipped = list(dict.fromkeys(report.skipped))


def _slices(engine: Engine, groups: list[list[str]], excluded: set[str]) -> Iterator[set[str]]:
    queued = engine.store.scan_rows.queued()
    if excluded:  # what only the server holds under a rule of this device: nothing to do
        queued = (q for q in queued if q[2] or q[3] or not is_within_any(q[1], excluded))
    return slicing.slices(queued, groups, engine.slice_paths)


def _with_first(first: set[str], rest: Iterator[set[str]]) -> Iterator[set[str]]:
    if first:
        yield first
    yield from rest


def move_groups(store: Store, *, folds_case: bool = False) -> list[list[str]]:
    """The ends of every move the planner could pair, widened to whole folders, and on
    a disk that folds case the names that fold together; joined where they meet
    (promises 3 and 9)."""
    pairs: list[tuple[str, str]] = []
    if folds_case:
        pairs.extend(slicing.clash_pairs(fold_clashes.clashes(store)))
    for gone, new in store.scan_rows.local_moves():
        pairs.append((_widen(store, gone, 0, gone=True), _widen(store, new, 0, gone=False)))
    for gone, new in store.scan_rows.remote_moves():
        pairs.append((_widen(store, gone, 2, gone=True), _widen(store, new, 2, gone=False)))
    return slicing.join_groups(pairs)


def _widen(store: Store, path: str, side: int, *, gone: bool) -> str:
    """The outermost folder around ``path`` that is gone from ``side`` (0: the walk,
    2: the mirror) while the base has it, or with ``gone=False`` new on that side."""
    best = path
    for folder in reversed(ancestors(path)):
        kinds = store.scan_rows.kinds(folder)
        here, base = kinds[side], kinds[1]
        if (base is not None and here is None) if gone else (here is not None and base is None):
            best = folder
        else:
            break
    return best


def judge_deletes(
    engine: Engine, report: Report, groups: list[list[str]], excluded: set[str]
) -> None:
    """Refuse the whole sync before any slice runs when it deletes too much (promise 4)."""
    store = engine.store
    policy = engine._policy(is_merge=False)
    if policy.allow_mass_delete:
        return
    bounds = store.scan_rows.delete_bounds()
    if bounds == (0, 0):
        return  # nothing can be deleted: no guard refuses (and no side need be counted)
    totals = _totals(engine)
    if not guards.check_counts(([], []), bounds, totals, policy):
        return  # even if every candidate were deleted, no guard would refuse
    deletes = Deletes()
    for scope in _slices(engine, groups, excluded):
        plan, local, remote = engine._plan_round(Report(), first=False, scope=scope, dry_run=True)
        deletes.add(plan, local, remote)
    refusals = deletes.refusals(totals, policy)
    if refusals:
        from syncd.reconciler import safety_stop

        report.refusals = list(refusals)
        raise safety_stop(refusals)


def plan_slices(engine: Engine, report: Report, scopes: Iterable[set[str]]) -> None:
    """A dry run in slices (promise 8): plan each slice without running it, hand its ops
    to the report as they come, and refuse as the real run would.

    The slices of a real run are planned after the ones before them ran, those of a dry
    run all on the facts before the sync; the plans are the same because no slice's plan
    reads what another slice holds: the ends of a far move, and names that fold together,
    are planned in one slice, a folder deleted or retyped whole is never cut, and a slice
    reads only its own paths' walk, base and mirror rows (promises 2-3). The deletes of
    every slice are judged together, as ``judge_deletes`` judges them before a real run.
    """
    deletes = Deletes()
    engine.consent = True  # a slice's deletes are judged with all the others below
    try:
        for index, scope in enumerate(scopes):
            plan, local, remote = engine._plan_round(report, first=False, scope=scope, dry_run=True)
            report.remote_changed = set()
            report.rounds = 1
            report.add_planned(plan.ops)
            if plan.refusals:  # the real run stops at this slice
                report.refusals = list(plan.refusals)
                return
            deletes.add(plan, local, remote)
            log.info("event=slice index=%d paths=%d", index, len(scope))
    finally:
        engine.consent = False
    policy = engine._policy(is_merge=False)
    if not policy.allow_mass_delete:
        report.refusals = list(deletes.refusals(_totals(engine), policy))
    report.problems = list(dict.fromkeys(report.problems))
    report.skipped = list(dict.fromkeys(report.skipped))


def _totals(engine: Engine) -> tuple[int, int, int]:
    """The files of the walk, the server and the base: what deletes are judged against."""
    _, walked_files = engine.store.scan_rows.count()
    return walked_files, engine.remote.files(), engine.store.base_files()


class Deletes:
    """The files the slices' plans delete on each side: counted all, named up to
    ``SAMPLE`` (a refusal lists them), so judging a large sync holds no list of them."""

    def __init__(self) -> None:
        self.gone: tuple[list[str], list[str]] = ([], [])
        self.counts = [0, 0]

    def add(
        self, plan: ops.Plan, local: Mapping[str, LocalNode], remote: Mapping[str, RemoteNode]
    ) -> None:
        sides = ((ops.TrashLocal, local), (ops.DeleteRemote, remote))
        for side, (kind, tree) in enumerate(sides):
            files = guards.deleted_files(plan.ops, kind, tree)
            self.counts[side] += len(files)
            self.gone[side].extend(files[: SAMPLE - len(self.gone[side])])

    def refusals(self, totals: tuple[int, int, int], policy: ops.Policy) -> tuple[ops.Refusal, ...]:
        return guards.check_counts(self.gone, (self.counts[0], self.counts[1]), totals, policy)
