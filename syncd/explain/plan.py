"""The server's answer for one path and the op the planner would choose for it now.

1. Both come from a dry-run engine (``open_session`` with ``dry_run`` and
   ``beside_daemon``): a private copy of the state, a probe that writes nothing, no lock
   taken or checked, and only read requests to the server (a listing, the change feed,
   file bodies hashed to compare contents and never stored).
2. The plan is first made for the path's scope, as the daemon plans a dirty path. When
   the path's op could be one half of a move (a create or a delete), or a folder delete
   above it could cover it, the whole folder is planned instead: a move pairs names the
   scope alone does not hold, and its answer is the one a full sync would act on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd.errors import SafetyStop
from syncd.paths import is_within
from syncd.planner import ops
from syncd.planner.trees import RemoteNode
from syncd.reconciler import Engine
from syncd.report import Report
from syncd.transport.client import Client

# Ops that may turn into (or belong to) a move or a folder's delete when the whole
# folder is planned: a scoped plan does not see the other end.
HALVES = (ops.Upload, ops.Download, ops.DeleteRemote, ops.TrashLocal, ops.ForgetBase)
HALF_REASONS = {
    ops.Reason.LOCAL_NEW,
    ops.Reason.REMOTE_NEW,
    ops.Reason.LOCAL_DELETED,
    ops.Reason.REMOTE_DELETED,
    ops.Reason.BOTH_DELETED,
}


@dataclass
class RemoteRead:
    """The server's listing cut to one path: its entry (None: absent) and the entries
    below it; ``base_only`` when the server has no extensions (no revisions, no hashes)."""

    entry: RemoteNode | None
    below: int
    base_only: bool


@dataclass
class PathPlan:
    """The ops of a dry run that touch the path, with what the round reported about it."""

    ops: list[ops.Op] = field(default_factory=list)
    refusals: list[ops.Refusal] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    scope: str = "path"  # "path" or "folder": what the planner was given
    stopped: str | None = None  # a safety stop before planning (the folder vanished)


def read_remote(client: Client, workspace_id: str, path: str) -> RemoteRead:
    """A fresh listing, read only (the base API has no per-path stat)."""
    listing = client.files.list(workspace_id)
    entries = getattr(listing, "entries", listing)
    entry = next((e.to_remote_node() for e in entries if e.path == path), None)
    below = sum(1 for e in entries if e.path != path and is_within(e.path, path))
    return RemoteRead(entry, below, base_only=not client.capabilities.changes)


def touches(op: ops.Op, path: str) -> bool:
    """The op acts on ``path``, on something below it, or on a folder that holds it."""
    ends = [op.path, getattr(op, "dest", None), getattr(op, "conflict_path", None)]
    return any(e and (is_within(e, path) or is_within(path, e)) for e in ends)


def path_ops(planned: list[ops.Op], path: str) -> list[ops.Op]:
    return [op for op in planned if touches(op, path)]


def needs_whole_folder(found: list[ops.Op]) -> bool:
    """Whether a scoped plan's answer may differ from a full sync's (module docstring, 2)."""
    return any(isinstance(op, HALVES) and op.reason in HALF_REASONS for op in found)


def plan_path(engine: Engine, path: str) -> PathPlan:
    """What the planner would do for ``path`` now; runs nothing, writes nothing."""
    try:
        report = engine.sync(dry_run=True, scope={path})
        result = _cut(report, path, "path")
        if needs_whole_folder(result.ops):
            result = _cut(engine.sync(dry_run=True), path, "folder")
    except SafetyStop as exc:  # the folder or its marker is gone: nothing is planned
        return PathPlan(stopped=exc.describe())
    return result


def _cut(report: Report, path: str, scope: str) -> PathPlan:
    def mine(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(p, r) for p, r in items if is_within(p, path) or is_within(path, p)]

    return PathPlan(
        ops=path_ops(report.planned, path),
        refusals=list(report.refusals),
        problems=mine(report.problems),
        skipped=mine(report.skipped),
        scope=scope,
    )
