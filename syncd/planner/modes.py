"""One-way modes: the ops a pass may run when only one side may be written.

1. Upload-only never writes the local folder; download-only never writes the server.
   An op that would write the forbidden side is dropped, or turned into what keeps both
   versions without writing there (``one_way``). The planner's other rules stay as they
   are, so the guards and the trash apply in every mode.
2. A delete that may not reach the other side is undone from the side that still holds
   the file where the mode allows it: download-only downloads a file deleted locally
   again, upload-only uploads a file deleted on the server again. A local delete in
   upload-only forgets the base row, so the file stays on the server, is not downloaded,
   and comes back once the mode is two-way; with ``propagate_deletes`` it is deleted on
   the server.
3. A conflict never overwrites: upload-only sends the local version under a conflict name
   (``UploadCopy``) and leaves the remote one at the path; download-only keeps the local
   edit as a local conflict copy that is not uploaded (``KeepBoth.upload_copy``).
4. A rename, move or type change whose op writes the forbidden side is dropped together
   with every op at or under its names: those ops name paths as after it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from syncd.paths import is_within
from syncd.planner.ops import (
    DeleteRemote,
    Download,
    ForgetBase,
    KeepBoth,
    MkdirLocal,
    MkdirRemote,
    Mode,
    MoveLocal,
    MoveRemote,
    Op,
    Policy,
    TrashLocal,
    Upload,
    UploadCopy,
)

WRITES_LOCAL = (Download, MkdirLocal, MoveLocal, TrashLocal, KeepBoth)
WRITES_REMOTE = (Upload, MkdirRemote, MoveRemote, DeleteRemote, UploadCopy)


def writes_local(op: Op) -> bool:
    return isinstance(op, WRITES_LOCAL)


def writes_remote(op: Op) -> bool:
    return isinstance(op, WRITES_REMOTE) or (isinstance(op, KeepBoth) and op.upload_copy)


def one_way(op: Op, policy: Policy) -> Op | None:
    """The op as the mode allows it, or None (see the module docstring)."""
    mode = policy.mode
    if mode is Mode.UPLOAD_ONLY:
        if isinstance(op, KeepBoth):
            if op.local is None or op.local.is_dir:
                return None
            return UploadCopy(
                op.path, op.reason, dest=op.conflict_path, local=op.local, remote=op.remote
            )
        if isinstance(op, TrashLocal):  # the server deleted it: send it again
            if op.local is None:
                return ForgetBase(op.path, op.reason)
            if op.local.is_dir:
                return MkdirRemote(op.path, op.reason)
            return Upload(op.path, op.reason, local=op.local, remote=None)
        if isinstance(op, DeleteRemote) and not policy.propagate_deletes:
            return ForgetBase(op.path, op.reason)
        return None if writes_local(op) else op
    if mode is Mode.DOWNLOAD_ONLY:
        if isinstance(op, KeepBoth):
            return replace(op, upload_copy=False)
        if isinstance(op, DeleteRemote):  # deleted here: fetch it again
            if op.remote is None:
                return ForgetBase(op.path, op.reason)
            if op.remote.is_dir:
                return MkdirLocal(op.path, op.reason)
            return Download(op.path, op.reason, remote=op.remote, local=None)
        return None if writes_remote(op) else op
    return op


def _forbidden(op: Op, policy: Policy) -> bool:
    """A structural op the mode may not run (a type change's delete is a delete too)."""
    if policy.mode is Mode.UPLOAD_ONLY:
        return writes_local(op) or (isinstance(op, DeleteRemote) and not policy.propagate_deletes)
    if policy.mode is Mode.DOWNLOAD_ONLY:
        return writes_remote(op)
    return False


def held_names(structure: Iterable[Op], policy: Policy) -> set[str]:
    """The source and destination names of the structural ops the mode forbids."""
    held: set[str] = set()
    for op in structure:
        if _forbidden(op, policy):
            held.add(op.path)
            dest = getattr(op, "dest", "")
            if dest:
                held.add(dest)
    return held


def keep_allowed(structure: Iterable[Op], held: set[str], policy: Policy) -> list[Op]:
    """The structural ops the mode allows that touch none of the ``held`` names."""
    return [op for op in structure if not _forbidden(op, policy) and not _touches(op, held)]


def _touches(op: Op, held: set[str]) -> bool:
    names = [op.path, getattr(op, "dest", "") or op.path]
    return any(is_within(n, h) for n in names for h in held)


def apply_mode(ops: dict[str, Op], policy: Policy, held: set[str] = frozenset()) -> dict[str, Op]:
    """Every per-path op as the mode allows it; ops at or under a ``held`` name go."""
    if policy.mode is Mode.TWO_WAY:
        return ops
    out: dict[str, Op] = {}
    for path, op in ops.items():
        if held and _touches(op, held):
            continue
        got = one_way(op, policy)
        if got is not None:
            out[path] = got
    return out
