"""The explanation of one path as one JSON-ready value: pure, from facts already read.

1. The keys are stable (``syncd explain --json`` prints exactly this value); a fact that
   could not be had is ``null`` with the reason beside it, never a guess.
2. ``compare`` is the decision table's input (local vs base, remote vs base), judged by
   the planner's own ``local_state`` / ``remote_state``; locally from the stat and the
   cached hash only (no content is read here), so the plan, which hashes, has the last
   word.
3. ``plan.reason`` is the ``Reason`` of the path's op; with no op it says why nothing is
   to do: ``UNCHANGED``, ``EXCLUDED``, or the words ``IGNORED`` / ``SKIPPED`` /
   ``UNREADABLE`` / ``UNKNOWN`` (not planner rows: the planner never sees such a path)
   and ``HELD_BY_MODE`` (a change a one-way mode leaves where it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from syncd.explain.facts import Facts
from syncd.explain.plan import PathPlan, RemoteRead
from syncd.paths import is_within
from syncd.planner import ops
from syncd.planner.rules import State, local_state, remote_state
from syncd.planner.trees import BaseNode, Kind, LocalNode, RemoteNode

WORDS: dict[type[ops.Op], str] = {
    ops.Upload: "upload",
    ops.Download: "download",
    ops.MkdirRemote: "create the folder on the server",
    ops.MkdirLocal: "create the folder here",
    ops.MoveRemote: "move on the server to {dest}",
    ops.MoveLocal: "rename here to {dest}",
    ops.DeleteRemote: "delete on the server",
    ops.TrashLocal: "move the local copy to the trash",
    ops.KeepBoth: "keep both: the local version becomes {conflict_path}, the server's takes the path",
    ops.UploadCopy: "upload the local version as {dest}, keep both",
    ops.RecordBase: "record both sides as in sync (no transfer)",
    ops.ForgetBase: "forget the base row",
}


def local_time(ns: int | None) -> str | None:
    """A file time (ns since the epoch) as ISO 8601 in this machine's time zone."""
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / 1e9).astimezone().isoformat(timespec="seconds")


def op_entry(op: ops.Op) -> dict[str, Any]:
    dest = getattr(op, "dest", None) or getattr(op, "conflict_path", None) or None
    words = WORDS.get(type(op), type(op).__name__)
    return {
        "op": type(op).__name__,
        "path": op.path,
        "dest": dest,
        "reason": str(op.reason),
        "what": words.format(dest=dest, conflict_path=dest),
        "text": ops.describe(op),
    }


def local_entry(facts: Facts) -> dict[str, Any]:
    info = facts.local
    return {
        "exists": None if facts.local_error else info is not None,
        "type": info.kind if info else None,
        "size": info.size if info and info.kind == "file" else None,
        "mtime": local_time(info.mtime_ns) if info else None,
        "mtime_ns": info.mtime_ns if info else None,
        "inode": info.inode if info else None,
        "link_target": info.link_target if info else None,
        "cached_hash": facts.cached_hash,
        "cached_hash_current": facts.cache_matches,
        "skipped": facts.skipped,
        "error": facts.local_error,
    }


def base_entry(base: BaseNode | None, below: int) -> dict[str, Any] | None:
    if base is None:
        return None if not below else {"type": None, "below": below}
    return {
        "type": base.kind.value,
        "size": base.size,
        "hash": base.hash,
        "revision": base.remote_revision,
        "remote_modified_time": base.remote_modified_time,
        "local_mtime": local_time(base.local_mtime_ns),
        "local_mtime_ns": base.local_mtime_ns,
        "local_inode": base.local_inode,
        "below": below,
    }


NODE_KEYS = ("type", "size", "modified_time", "revision", "hash")


def node_entry(node: RemoteNode | None) -> dict[str, Any] | None:
    if node is None:
        return None
    return {
        "type": node.kind.value,
        "size": node.size,
        "modified_time": node.modified_time,
        "revision": node.revision,
        "hash": node.hash,
    }


def remote_entry(read: RemoteRead | None, error: str | None) -> dict[str, Any]:
    node = read.entry if read is not None else None
    return {
        "checked": read is not None,
        "exists": None if read is None else node is not None,
        "below": None if read is None else read.below,
        "server": None if read is None else ("base-only" if read.base_only else "full"),
        "error": error,
        **(node_entry(node) or dict.fromkeys(NODE_KEYS)),
    }


def local_node(facts: Facts) -> LocalNode | None:
    """The local side as the planner would see it, from the stat and a current cached hash."""
    info = facts.local
    if info is None:
        return None
    if info.kind == "directory":
        return LocalNode(facts.path, Kind.DIR, inode=info.inode)
    digest = facts.cached_hash if facts.cache_matches else None
    return LocalNode(facts.path, Kind.FILE, info.size, info.mtime_ns, info.inode, digest)


def compare(facts: Facts, read: RemoteRead | None) -> dict[str, str | None]:
    """local vs base and remote vs base, as the table's rows name them (None: unknown)."""
    plain = facts.local is None or facts.local.kind in ("file", "directory")
    known_locally = not facts.local_error and plain and facts.ignore is None
    local = local_state(local_node(facts), facts.base).value if known_locally else None
    remote = remote_state(read.entry, facts.base).value if read is not None else None
    return {"local": local, "remote": remote}


def exclude_entry(path: str, added: Sequence[str], config: Sequence[str]) -> dict[str, Any]:
    """The device's exclude rule that covers ``path`` (the outermost), and rules below it."""
    rules = [(r, "exclude add") for r in sorted(added)] + [(r, "config") for r in sorted(config)]
    hit = next(
        ((r, s) for r, s in sorted(rules, key=lambda x: len(x[0])) if is_within(path, r)), None
    )
    return {
        "excluded": hit is not None,
        "rule": hit[0] if hit else None,
        "source": hit[1] if hit else None,
        "below": sorted({r for r, _ in rules if r != path and is_within(r, path)}),
    }


def ignore_entry(facts: Facts) -> dict[str, Any]:
    match = facts.ignore
    return {
        "ignored": match is not None,
        "matched": match.path if match else None,
        "source": match.source if match else None,
        "line": facts.ignore_line,
        "pattern": match.pattern if match else None,
        "why": match.why if match else None,
        "error": facts.ignore_error,
    }


def plan_entry(
    plan: PathPlan | None,
    facts: Facts,
    exclude: dict[str, Any],
    cmp: dict[str, str | None],
    error: str | None,
    mode: str = str(ops.Mode.TWO_WAY),
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "checked": plan is not None,
        "scope": plan.scope if plan else None,
        "ops": [op_entry(op) for op in plan.ops] if plan else [],
        "refusals": [{"kind": str(r.kind), "message": r.message} for r in plan.refusals]
        if plan
        else [],
        "problems": [{"path": p, "reason": r} for p, r in plan.problems] if plan else [],
        "stopped": plan.stopped if plan else None,
        "error": error,
    }
    path = facts.path
    own = [op for op in entry["ops"] if path in (op["path"], op["dest"])]
    above = [op for op in entry["ops"] if is_within(path, op["path"]) and op["path"] != path]
    if plan is None:
        entry["action"], entry["reason"] = None, None
    elif plan.stopped:
        entry["action"], entry["reason"] = "refused", None
    elif own or above:
        chosen = (own or above)[0]
        entry["action"], entry["reason"] = chosen["what"], chosen["reason"]
    elif entry["ops"]:  # a folder: its own entry is unchanged, paths below it are not
        entry["action"], entry["reason"] = f"{len(entry['ops'])} operations below it", None
    else:
        why = _why_nothing(plan, facts, exclude, cmp, mode)
        entry["action"], entry["reason"] = "nothing", why
    return entry


def _why_nothing(
    plan: PathPlan, facts: Facts, exclude: dict[str, Any], cmp: dict[str, str | None], mode: str
) -> str:
    if exclude["excluded"]:
        return str(ops.Reason.EXCLUDED)
    if facts.ignore is not None:
        return "IGNORED"
    if facts.skipped or plan.skipped:
        return "SKIPPED"
    if plan.problems or facts.local_error:
        return "UNREADABLE"
    if cmp["local"] == State.ABSENT.value and cmp["remote"] in (State.ABSENT.value, None):
        return "UNKNOWN"
    quiet = (State.SAME.value, State.ABSENT.value, None)
    if mode != ops.Mode.TWO_WAY and not (cmp["local"] in quiet and cmp["remote"] in quiet):
        return "HELD_BY_MODE"  # a change the mode does not carry to the side it may not write
    return str(ops.Reason.UNCHANGED)


def assemble(
    facts: Facts,
    *,
    read: RemoteRead | None,
    plan: PathPlan | None,
    mode: str,
    mode_source: str = "settings",
    excluded_config: Sequence[str] = (),
    daemon_running: bool = False,
    remote_error: str | None = None,
    plan_error: str | None = None,
) -> dict[str, Any]:
    """The explanation (``--json`` prints exactly this)."""
    cmp = compare(facts, read)
    exclude = exclude_entry(facts.path, facts.excluded_added, excluded_config)
    known = (
        facts.local is not None
        or facts.base is not None
        or facts.base_below > 0
        or facts.mirror is not None
        or bool(read is not None and (read.entry is not None or read.below))
        or bool(plan and plan.ops)
    )
    return {
        "path": facts.path,
        "known": known,
        "local": local_entry(facts),
        "base": base_entry(facts.base, facts.base_below),
        "remote": remote_entry(read, remote_error),
        "mirror": {"cursor": facts.cursor, "entry": node_entry(facts.mirror)}
        if facts.has_feed
        else None,
        "compare": cmp,
        "ignore": ignore_entry(facts),
        "exclude": exclude,
        "mode": {"now": mode, "from": mode_source, "last_pass": facts.last_mode},
        "last_change": facts.recent[0] if facts.recent else None,
        "changes": facts.recent,
        "pending": [
            {
                "op": e.op_kind,
                "path": e.path,
                "dest": e.dest,
                "reason": e.payload.get("reason"),
                "status": e.status.value,
                "started_time": e.started_time,
            }
            for e in facts.journal
        ],
        "errors": [
            {
                "path": e.path,
                "reason": e.reason,
                "count": e.count,
                "first_time": e.first_time,
                "last_time": e.last_time,
            }
            for e in facts.errors
        ],
        "conflicts": [
            {"path": c.path, "conflict_path": c.conflict_path, "time": c.time}
            for c in facts.conflicts
        ],
        "dirty_since": facts.dirty_since,
        "plan": plan_entry(plan, facts, exclude, cmp, plan_error, mode),
        "daemon": None
        if facts.daemon is None
        else {
            "running": daemon_running,
            "pid": facts.daemon.pid,
            "state": facts.daemon.state.value,
        },
        "merge_pending": facts.merge_pending,
        "last_sync": facts.last_sync,
    }
