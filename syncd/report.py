"""What one sync did, as the CLI prints it and the state keeps its totals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from syncd.planner import ops
from syncd.worker.outcome import Outcome, Status


@dataclass
class Report:
    """What one sync did; the CLI prints it and computes the exit code from it."""

    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    planned: list[ops.Op] = field(default_factory=list)
    refusals: list[ops.Refusal] = field(default_factory=list)
    was_reset: bool = False
    rounds: int = 0
    remote_changed: set[str] = field(default_factory=set)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # by policy, not failed
    # What ``fold`` kept of the outcomes of finished slices (a sync in slices).
    folded_done: Counter[type[ops.Op]] = field(default_factory=Counter)
    folded_failed: list[tuple[str, str]] = field(default_factory=list)
    folded_conflicts: list[str] = field(default_factory=list)
    folded_changes: list[dict[str, str]] = field(default_factory=list)
    # A dry run's plan: handed to ``on_plan`` as it is made when a printer is given.
    on_plan: Callable[[ops.Op], None] | None = None
    planned_count: int = 0

    def add_planned(self, planned: Iterable[ops.Op]) -> None:
        """Take the ops a dry run planned: to ``on_plan`` as each slice is planned, so a
        dry run in slices holds one slice's plan at a time; kept in ``planned`` when no
        printer was given (``syncd explain`` reads them)."""
        for op in planned:
            self.planned_count += 1
            if self.on_plan is None:
                self.planned.append(op)
            else:
                self.on_plan(op)

    def fold(self) -> set[str]:
        """Keep the counts, failures, conflicts and last changes of the outcomes so far,
        drop the outcomes themselves (a sync in slices holds one slice's at a time), and
        return the paths that synced. Failed outcomes stay: the daemon reads them."""
        done: set[str] = set()
        self.folded_failed = self.failed_outcomes()
        self.folded_conflicts = self.conflicts
        self.folded_changes = self.changes()[-FOLDED_CHANGES:]
        for o in self.outcomes:
            if o.status is Status.DONE:
                self.folded_done[type(o.op)] += 1
                done.add(o.path)
        self.outcomes = [o for o in self.outcomes if o.status is Status.FAILED]
        self.folded_failed = [f for f in self.folded_failed if f not in self._failed_here()]
        return done

    def count(self, *kinds: type[ops.Op]) -> int:
        folded = sum(n for kind, n in self.folded_done.items() if issubclass(kind, kinds))
        return folded + sum(
            1 for o in self.outcomes if o.status is Status.DONE and isinstance(o.op, kinds)
        )

    @property
    def failed(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys(self.failed_outcomes() + self.problems))

    def _failed_here(self) -> list[tuple[str, str]]:
        return [(o.path, o.reason) for o in self.outcomes if o.status is Status.FAILED]

    def failed_outcomes(self) -> list[tuple[str, str]]:
        """Failed paths with why: failed ops and paths that kept changing, folded too."""
        failed = self.folded_failed + self._failed_here()
        replans = {o.path: o.detail for o in self.outcomes if o.status is Status.REPLAN}
        done = {o.path for o in self.outcomes if o.status is Status.DONE}
        for path in sorted(replans.keys() - done):
            last = replans[path].removeprefix(f"{path}: ")  # why the last round re-planned
            failed.append((path, "kept changing during the sync" + (f" ({last})" if last else "")))
        return list(dict.fromkeys(failed))

    def totals(self) -> dict[str, int]:
        """The counts of the summary line, also stored as the last sync's result."""
        return {
            "uploaded": self.count(ops.Upload),
            "downloaded": self.count(ops.Download),
            "moved": self.count(ops.MoveLocal, ops.MoveRemote),
            "deleted": self.count(ops.TrashLocal, ops.DeleteRemote),
            "conflicts": len(self.conflicts),
            "failed": len(self.failed),
        }

    def changes(self) -> list[dict[str, str]]:
        """What this sync changed, one entry per done op a person cares about, with the
        op and the rule (``Reason``) that chose it."""
        words: list[tuple[type[ops.Op] | tuple[type[ops.Op], ...], str]] = [
            (ops.Upload, "uploaded"),
            (ops.Download, "downloaded"),
            (ops.TrashLocal, "moved to the trash"),
            (ops.DeleteRemote, "deleted on the server"),
            ((ops.MoveLocal, ops.MoveRemote), "moved"),
        ]
        found: list[dict[str, str]] = list(self.folded_changes)
        for o in self.outcomes:
            if o.status is not Status.DONE:
                continue
            what = next((w for kinds, w in words if isinstance(o.op, kinds)), None)
            if what is not None:
                entry = {"what": what, "path": o.path, "op": type(o.op).__name__}
                entry["reason"] = str(o.op.reason)  # the rule that chose it, for `explain`
                if isinstance(o.op, (ops.MoveLocal, ops.MoveRemote)):
                    entry["dest"] = o.op.dest
                found.append(entry)
            if o.conflict:
                found.append(
                    {
                        "what": "conflict copy",
                        "path": o.conflict,
                        "of": o.path,
                        "op": type(o.op).__name__,
                        "reason": str(o.op.reason),
                    }
                )
        return found

    @property
    def conflicts(self) -> list[str]:
        here = [o.conflict for o in self.outcomes if o.conflict and o.status is Status.DONE]
        return self.folded_conflicts + here


FOLDED_CHANGES = 1_000  # the changes a sync in slices keeps for `syncd status` (it shows 50)
