"""One pass of the daemon: a full sync, or a scoped sync of the dirty paths.

1. A scoped pass syncs the dirty paths, then the paths the change feed brought during it
   (``Report.remote_changed``) outside the scope just synced (one synced in an earlier
   round may have changed again), in at most ``FOLLOW_ROUNDS`` further scoped passes; remote
   paths are marked dirty first, so a crash between the passes forgets none of them.
   What the feed brought beyond those rounds is marked dirty too and named in
   ``PassReport.left``: the feed's cursor has moved past it, so only the dirty set still
   knows it, and the loop runs the next pass at once.
2. A path leaves the dirty set only when the pass that covered it did not fail on it;
   marks that arrived during the pass stay (``DirtyPaths.clear`` drops exactly these). A
   path that failed without being dirty (a full pass found it) is marked, so the retry of
   failed items covers it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from syncd.paths import ancestors
from syncd.report import Report

if TYPE_CHECKING:
    from syncd.session import Session

log = logging.getLogger("syncd.daemon")

FOLLOW_ROUNDS = 3


class PassResult(Enum):
    DONE = "done"
    OFFLINE = "offline"
    PAUSED = "paused"
    ERROR = "error"


@dataclass
class Backoff:
    """Capped doubling delays: low, 2*low, ... high; ``reset`` after a success."""

    low: float = 1.0
    high: float = 60.0
    current: float | None = None

    def next(self) -> float:
        self.current = self.low if self.current is None else min(self.high, self.current * 2)
        return self.current

    def reset(self) -> None:
        self.current = None


@dataclass
class PassReport:
    """The reports of one daemon pass and the paths it covered."""

    reports: list[Report] = field(default_factory=list)
    covered: set[str] = field(default_factory=set)
    left: set[str] = field(default_factory=set)  # brought by the feed, left for the next pass

    @property
    def failed(self) -> list[tuple[str, str]]:
        return [item for r in self.reports for item in r.failed]

    def totals(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for report in self.reports:
            for key, value in report.totals().items():
                total[key] = total.get(key, 0) + value
        return total


def run_full(session: Session, dirty: set[str]) -> PassReport:
    """A full sync; it covers every path dirty before it began."""
    result = PassReport(covered=set(dirty))
    result.reports.append(session.engine.sync())
    _finish(session, result, "full")
    return result


def run_scoped(session: Session, dirty: set[str]) -> PassReport:
    """Sync the dirty paths, then what the feed brought, scoped each time."""
    engine, store = session.engine, session.store
    result = PassReport(covered=set(dirty))
    scope = set(dirty)
    report = engine.sync(scope=scope)
    result.reports.append(report)
    for _ in range(FOLLOW_ROUNDS):
        # Outside the scope just synced, not outside the whole pass: a path an earlier
        # round synced may have changed again on the server since, and the cursor is
        # past that change now.
        extra = {p for p in report.remote_changed if not is_covered(p, scope)}
        if not extra:
            break
        store.dirty.mark(extra)
        result.covered |= extra
        scope = extra
        report = engine.sync(scope=scope)
        result.reports.append(report)
    else:
        # The rounds ran out while the feed kept bringing paths (another client writing
        # fast): the cursor is past them, so they must stay dirty or wait for a rescan.
        result.left = {p for p in report.remote_changed if not is_covered(p, scope)}
        store.dirty.mark(result.left)
    _finish(session, result, "scoped")
    return result


def is_covered(path: str, covered: set[str]) -> bool:
    """True when ``path`` or one of its ancestors was in the scope of a pass."""
    return path in covered or any(a in covered for a in ancestors(path))


def _finish(session: Session, result: PassReport, kind: str) -> None:
    failed = {path for path, _ in result.failed}
    session.store.dirty.clear(p for p in result.covered if p not in failed | result.left)
    if failed - result.covered:  # failed in a full pass: the retry is a scoped one
        session.store.dirty.mark(failed - result.covered)
    totals = result.totals()
    if any(totals.values()):
        shown = " ".join(f"{k}={v}" for k, v in totals.items())
        log.info("event=synced pass=%s paths=%d %s", kind, len(result.covered), shown)
    else:
        log.debug("event=synced pass=%s paths=%d nothing to do", kind, len(result.covered))
