"""Gather the three trees, call the pure planner, hand the plan to the executor, re-plan.

The engine is handed its parts (``LocalSource``, ``RemoteSource``, ``BaseStore``,
``Executor``; ``syncd.session`` builds the real ones) and builds none of them, so its
rounds can be tested with fakes.

1. Facts first: the local scan, the remote tree (feed or listing) and the base are read
   before anything is planned; the planner's ``Need`` (hashes, remote bytes to compare) is
   gathered here and the planner runs again.
2. A refusal of the planner's guards is raised as its kind's ``SafetyStop`` (``MassDelete``,
   ``RootVanished``) before any op runs.
3. Re-plans (412, a local file that moved on, a path conflict) are planned again from freshly
   observed facts, a bounded number of rounds; nothing is forced.
4. Subtrees that could not be read this cycle, ignored paths and contradicting remote
   entries are handed to the planner as unknown: it leaves them alone and never deletes a
   folder that holds one.
5. Paths skipped by policy (symlinks) are no failure: they are noted in the state for
   ``syncd status`` and logged once, when first seen. Conflict records whose copy is gone
   from the folder are forgotten after each sync.
6. A round that renamed a second Unicode spelling of a name is followed by another, which
   syncs the renamed entry (and its subtree) under its new name.
7. Gathering facts writes no base row: what a round records goes through the plan's ops
   and the executor, so a dry run, which runs none, changes nothing.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.config import DeleteLimit
from syncd.engine_parts import BaseStore, Executor, LocalSource, RemoteSource, RemoteView
from syncd.errors import REFUSALS, ItemError, PreconditionFailed, SafetyStop, UsageError
from syncd.local import root as local_root
from syncd.local.spelling import exists_on_disk
from syncd.paths import is_within_any
from syncd.planner import ops
from syncd.planner.plan import plan as make_plan
from syncd.planner.trees import LocalNode, RemoteNode
from syncd.report import Report
from syncd.state import exclude_rules, recent
from syncd.worker.outcome import Outcome, Status

if TYPE_CHECKING:
    from syncd.local.downloads import Downloads
    from syncd.local.ignore import Ignore
    from syncd.local.trash import Trash
    from syncd.state.journal import Journal

log = logging.getLogger("syncd.reconciler")

MAX_ROUNDS = 4
MAX_NEED_ROUNDS = 3
SLICE_PATHS = 5_000  # changed paths planned at once by a full sync (syncd.slices)
DELETES = (ops.TrashLocal, ops.DeleteRemote)  # the ops the mass-delete guard counts


class Engine:
    """One (folder, workspace) pair and the parts to sync it; handed in, never built here.

    ``ignore`` and ``transfers`` are the local source's rules and the executor's width,
    so a reload of either reaches the part that uses it.
    """

    def __init__(
        self,
        *,
        local: LocalSource,
        remote: RemoteSource,
        store: BaseStore,
        executor: Executor,
        root: Path,
        trash: Trash,
        journal: Journal | None = None,
        downloads: Downloads | None = None,
        delete_limit: DeleteLimit | None = None,
        allow_mass_delete: bool = False,
        mode: ops.Mode = ops.Mode.TWO_WAY,
        propagate_deletes: bool = False,
        folds_case: bool = False,
        folds_unicode: bool = False,
        exclude: Sequence[str] = (),
        slice_paths: int = SLICE_PATHS,
    ) -> None:
        self.local = local
        self.remote = remote
        self.store = store
        self.executor = executor
        self.root = root
        self.trash = trash  # pruned by the CLI and the daemon; the executor fills it
        self.journal = journal
        self.downloads = downloads  # the downloads area (``local.downloads``)
        self.delete_limit = delete_limit or DeleteLimit()
        self.allow_mass_delete = allow_mass_delete
        self.mode = mode  # which sides a pass may write (planner/modes.py)
        self.propagate_deletes = propagate_deletes
        self.folds_case = folds_case
        self.folds_unicode = folds_unicode
        self.exclude = tuple(exclude)  # the config's rules; the state's are read each pass
        self.seen_excluded: set[str] = set()  # the rules the last sync planned with
        self.links: dict[str, str] = {}  # followed link -> its target, from the last scan
        self.slice_paths = slice_paths  # a full sync plans this many changed paths at a time
        self.consent = False  # the deletes of a sync in slices were judged whole (slices.py)

    @property
    def ignore(self) -> Ignore:
        return self.local.ignore

    @ignore.setter
    def ignore(self, rules: Ignore) -> None:
        self.local.ignore = rules

    @property
    def transfers(self) -> int:
        return self.executor.transfers

    @transfers.setter
    def transfers(self, count: int) -> None:
        self.executor.transfers = count

    @property
    def min_free_space(self) -> int | str | None:
        """The worker's low-disk guard (``syncd.local.space``); set live on reload."""
        space = getattr(self.executor, "space", None)
        return space.min_free if space is not None else None

    @min_free_space.setter
    def min_free_space(self, value: int | str | None) -> None:
        from syncd.local.space import SpaceGuard

        self.executor.space = SpaceGuard(value)  # type: ignore[attr-defined]

    # -- facts -------------------------------------------------------------------------
    def check_root(self, *, dry_run: bool = False) -> None:
        """Refuse (exit 5) when the folder or its identity vanished while the base is full.

        The first sync writes the marker; from then on a folder without it, or with another
        one, is not the folder we synced (an unmounted disk, a replaced folder), and acting
        on it would turn every file into a delete. A dry run refuses alike but writes no
        marker: the real sync after it still writes it.
        """
        folder_id = self.store.meta.folder_id()
        has_base = self.store.has_base()
        status = local_root.check_root(self.root, folder_id)
        if status is local_root.RootStatus.MISSING and not has_base:
            raise UsageError(f"local folder {self.root} does not exist")
        if folder_id is None or (status is not local_root.RootStatus.OK and not has_base):
            if not dry_run:
                self.store.meta.set_folder_id(local_root.ensure_marker(self.root))
            return
        local_root.refuse_unless_ok(status)

    def remote_tree(self, report: Report, scope: set[str] | None = None) -> RemoteView:
        """The remote side under ``scope``; what it reports goes into ``report``."""
        view = self.remote.tree(scope)
        report.was_reset = report.was_reset or view.was_reset
        report.remote_changed |= view.changed
        report.problems.extend((p, f"bad entry from server: {r}") for p, r in view.rejected)
        return view

    # -- one sync ----------------------------------------------------------------------
    def sync(
        self,
        *,
        dry_run: bool = False,
        scope: set[str] | None = None,
        on_plan: Callable[[ops.Op], None] | None = None,
    ) -> Report:
        """Bring both sides into agreement; with ``scope``, only those paths and subtrees.

        A scoped sync is what the daemon runs for dirty paths: the scan, the remote tree and
        the base are cut down to the scope, so nothing outside it is planned. The base and
        the feed's mirror are read only under the scope (both ends of a local move are
        dirty paths, so a move finds its base row), which keeps a small change cheap in a
        large tree. A dry run hands each op it plans to ``on_plan`` (the CLI prints it), so
        a dry run in slices holds one slice's plan at a time.
        """
        if dry_run and not self.store.is_copy:
            raise RuntimeError("a dry run plans on a private copy of the state (Store.open_copy)")
        report = Report(on_plan=on_plan)
        self.check_root(dry_run=dry_run)
        excluded = self.excluded()
        if scope is not None:  # a rule added or removed since the last sync: its subtree too
            scope = scope | (excluded ^ self.seen_excluded)
        self.seen_excluded = excluded
        if scope is not None and self.links:  # a target's change is its links' change too
            scope = scope | {link for link, t in self.links.items() if is_within_any(t, scope)}
        if scope is None and self.can_slice():
            from syncd import slices

            slices.sync_in_slices(self, report, dry_run=dry_run)
            if dry_run:
                return report
        elif not self.run_rounds(report, scope=scope, dry_run=dry_run):
            return report  # a dry run
        self.finish(report, scope)
        return report

    def can_slice(self) -> bool:
        """A full sync, real or dry, goes in slices (``syncd.slices``) where the SQL
        questions can be asked: with a change feed (the mirror is in the state). On a disk
        that folds case, names that fold together are asked for in SQL and planned in
        one slice; a listing of a base-only server is whole by nature."""
        return self.slice_paths > 0 and self.remote.has_mirror()

    def run_rounds(
        self,
        report: Report,
        *,
        scope: set[str] | None,
        dry_run: bool = False,
        first: bool = True,
    ) -> bool:
        """Plan and run up to ``MAX_ROUNDS`` rounds; False when it was a dry run (the plan
        is in the report). A refused plan raises its ``SafetyStop``."""
        for rnd in range(MAX_ROUNDS):
            report.rounds = max(report.rounds, rnd + 1)
            plan, local, remote = self._plan_round(
                report, first=first and rnd == 0, scope=scope, dry_run=dry_run
            )
            if plan.refusals:
                report.refusals = list(plan.refusals)
                if dry_run:
                    report.add_planned(plan.ops)
                    return False
                raise safety_stop(plan.refusals)
            if dry_run:
                report.add_planned(plan.ops)
                return False
            if not plan.ops:
                break
            outcomes = self.executor.run(plan, local, remote, links=frozenset(self.links))
            report.outcomes.extend(outcomes)
            renamed = _renamed_twins(outcomes)
            if scope is not None:
                scope = scope | renamed
            if not renamed and not any(o.status is Status.REPLAN for o in outcomes):
                break
        return True

    def finish(self, report: Report, scope: set[str] | None) -> None:
        """What a sync records once it ran: errors, partial downloads, skipped paths,
        resolved conflicts, the journal, the merge's end and the summary."""
        self._record_errors(report)
        self._prune_downloads(report, scope)
        self._note_skipped(report, scope)
        self._forget_resolved_conflicts()
        if self.journal is not None:
            self.journal.finish_sync(full=scope is None)
        if not report.failed and self.store.meta.is_merge_pending():
            self.store.meta.finish_merge(self.store.meta.cursor())
        self.store.meta.record_sync(report.totals())
        self.store.meta.set("mode", str(self.mode))  # `status` shows the mode of the last pass
        recent.record(self.store, report.changes(), report.totals())

    def _note_skipped(self, report: Report, scope: set[str] | None) -> None:
        for path, reason in self.store.meta.note_skipped(dict(report.skipped), scope).items():
            log.info("event=skipped path=%s reason=%s", path, reason)

    def _forget_resolved_conflicts(self) -> None:
        """A conflict is listed while its copy exists; one the user removed is resolved."""
        gone = [
            c.conflict_path
            for c in self.store.conflicts.rows()
            if not exists_on_disk(self.root, c.conflict_path)
        ]
        self.store.conflicts.clear(gone)

    def _plan_round(
        self, report: Report, *, first: bool, scope: set[str] | None = None, dry_run: bool = False
    ) -> tuple[ops.Plan, dict[str, LocalNode], dict[str, RemoteNode]]:
        """Gather the facts and plan once. Gathering writes no base row (the server's
        echoes of our writes are the planner's ``RecordBase`` ops); a dry run also leaves
        the folder and the hash cache alone, and feed pages land in its private copy of
        the state."""
        scanned = self.local.scan(scope)
        if not dry_run:
            self.local.tidy(scanned)
        if first:
            report.problems.extend((p.path, p.reason) for p in scanned.problems)
            report.skipped.extend((p.path, p.reason) for p in scanned.skipped)
        kept = (
            {}
            if scope is None
            else {k: t for k, t in self.links.items() if not is_within_any(k, scope)}
        )
        self.links = {**kept, **scanned.links}
        view = self.remote_tree(report, scope)
        remote = view.tree
        base = self.store.base(prefixes=scope)
        local = scanned.tree
        excluded = self.excluded()
        if first and excluded:
            report.skipped.extend(
                (p, "excluded on this device") for p in _unsynced_under(excluded, local, base)
            )
        # A first sync merges; a scoped round with no base under its scope, in a folder
        # synced before, is no first sync (its new paths are LOCAL_NEW, not merged).
        first_sync = not base and (scope is None or not self.store.has_base())
        policy = replace(
            self._policy(is_merge=first_sync or self.store.meta.is_merge_pending()),
            excluded=frozenset(excluded),
            local_unknown=frozenset(scanned.unknown | scanned.ignored),
            remote_unknown=frozenset(view.unknown | self._ignored(remote)),
            local_twins=tuple(scanned.twins),
        )
        plan = make_plan(local, remote, base, policy)
        for _ in range(MAX_NEED_ROUNDS):
            if plan.need is None:
                break
            local, policy = self._gather(plan.need, local, remote, policy, report)
            plan = make_plan(local, remote, base, policy)
        if scope is not None and any(isinstance(op, DELETES) for op in plan.ops):
            # The guards judge deletes against whole sides, not against the scope. Only
            # deletes need those totals, so a scoped sync without any counts nothing.
            policy = replace(
                policy, local_files=self.store.base_files(), remote_files=self.remote.files()
            )
            plan = make_plan(local, remote, base, policy)
        return plan, local, remote

    def excluded(self) -> set[str]:
        """This device's exclude rules: the config's and ``syncd exclude add``'s, read on
        every pass so a running daemon picks up a change on its next one."""
        return set(self.exclude) | set(exclude_rules.read(self.store))

    def _ignored(self, remote: Mapping[str, RemoteNode]) -> set[str]:
        """Remote paths that a .syncdignore (the root's or a nested one) excludes: neither
        downloaded nor deleted."""
        return self.local.ignored_remote((p, n.is_dir) for p, n in remote.items())

    def _policy(self, *, is_merge: bool) -> ops.Policy:
        return ops.Policy(
            is_merge=is_merge,
            folds_case=self.folds_case,
            folds_unicode=self.folds_unicode,
            now=time.strftime("%Y-%m-%d %H%M%S"),
            host=socket.gethostname().split(".")[0] or "host",
            max_delete_count=self.delete_limit.count,
            max_delete_ratio=self.delete_limit.ratio,
            allow_mass_delete=self.allow_mass_delete or self.consent,
            mode=self.mode,
            propagate_deletes=self.propagate_deletes,
        )

    def _gather(
        self,
        need: ops.Need,
        local: dict[str, LocalNode],
        remote: Mapping[str, RemoteNode],
        policy: ops.Policy,
        report: Report,
    ) -> tuple[dict[str, LocalNode], ops.Policy]:
        """Hash the local files the planner asked about; hash remote bytes to compare with
        the local file or, for ``remote_hashes``, to hand their hash to the planner.

        The remote bytes are hashed as they stream in and never stored, so comparing writes
        nothing (a dry run compares too). A server whose bytes do not match its own listing
        makes that path unknown for this cycle: it is neither kept twice nor overwritten.
        """
        local = dict(local)
        for path in sorted(need.local_hashes):
            node = local.get(path)
            if node is None or node.is_dir:
                continue
            local[path] = replace(node, hash=self.local.hash(node))
        equal, different = set(policy.equal_contents), set(policy.different_contents)
        unknown = set(policy.remote_unknown)
        for path in sorted(need.remote_contents):
            node = local.get(path)
            if node is None or node.is_dir:
                continue
            if node.hash is None:
                node = local[path] = replace(node, hash=self.local.hash(node))
            listed = remote.get(path)
            try:
                digest = self.remote.content_hash(path, listed.size if listed is not None else None)
            except PreconditionFailed as exc:
                unknown.add(path)
                report.problems.append((path, str(exc).removeprefix(f"{path}: ")))
                continue
            (equal if digest == node.hash else different).add(path)
        fetched = dict(policy.remote_hashes)
        wanted = [p for p in sorted(need.remote_hashes) if p in remote and not remote[p].is_dir]
        if wanted:  # one download each, so several at once, as the executor's transfers
            with ThreadPoolExecutor(
                max(1, self.transfers), thread_name_prefix="syncd-hash"
            ) as pool:
                digests = list(pool.map(lambda p: self._remote_hash_or_none(p, remote), wanted))
            for path, digest in zip(wanted, digests, strict=True):
                if digest is None:
                    different.add(path)  # not readable now: unsure, so it counts as changed
                else:
                    fetched[path] = digest
        return local, replace(
            policy,
            equal_contents=frozenset(equal),
            different_contents=frozenset(different),
            remote_unknown=frozenset(unknown),
            remote_hashes=fetched,
        )

    def _prune_downloads(self, report: Report, scope: set[str] | None) -> None:
        """Keep only the partial downloads this sync left unfinished (outside a scoped
        sync's scope, all of them): any other path was finished or synced otherwise."""
        if self.downloads is None:
            return
        unfinished = {
            o.path
            for o in report.outcomes
            if o.status is not Status.DONE and isinstance(o.op, ops.Download | ops.KeepBoth)
        }
        dropped = self.downloads.prune(
            lambda path: (
                path in unfinished or (scope is not None and not is_within_any(path, scope))
            )
        )
        if dropped:
            log.info("event=partial_downloads_dropped count=%d", len(dropped))

    def _remote_hash_or_none(self, path: str, remote: Mapping[str, RemoteNode]) -> str | None:
        """The hash of the server's bytes at ``path``, or None when they cannot be read now
        (a body of another size than listed is ``PreconditionFailed``)."""
        listed = remote.get(path)
        try:
            return self.remote.content_hash(path, listed.size if listed is not None else None)
        except (ItemError, PreconditionFailed) as exc:
            log.info("event=remote_hash_failed path=%s detail=%s", path, exc)
            return None

    def _record_errors(self, report: Report) -> None:
        synced = {o.path for o in report.outcomes if o.status is Status.DONE}
        self.store.item_errors.clear(synced)
        for path, reason in report.failed:
            self.store.item_errors.record(path, reason)


def safety_stop(refusals: Sequence[ops.Refusal]) -> SafetyStop:
    """The error for a refused plan: the class of its first refusal (the guards put a
    vanished folder before mass deletes), the messages of all of them."""
    cls = REFUSALS[refusals[0].kind]
    return cls("; ".join(r.message for r in refusals))


def _unsynced_under(
    excluded: set[str], local: Mapping[str, LocalNode], base: Mapping[str, object]
) -> list[str]:
    """Local files under an excluded path that were never synced: kept, not uploaded."""
    return sorted(
        p for p, n in local.items() if not n.is_dir and p not in base and is_within_any(p, excluded)
    )


def _renamed_twins(outcomes: list[Outcome]) -> set[str]:
    """Where this round put second spellings of names: the next round syncs them there."""
    return {
        o.op.dest
        for o in outcomes
        if o.status is Status.DONE
        and isinstance(o.op, ops.MoveLocal)
        and o.op.reason is ops.Reason.UNICODE_TWIN
    }
