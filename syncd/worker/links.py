"""Ops on a followed symbolic link (``symlinks = follow``): never write through it, never
replace it with a file.

A followed link stands for the content of a file elsewhere in the folder. What the server
does to the link's path must not change that file behind the user's back, nor turn the
link into a copy without a word:

1. A remote version arriving at the link's path (a change, or a conflict with the
   target's own change) is saved as a conflict copy beside the link and uploaded; the
   link and its target stay as they are, and the link's content is uploaded over the
   remote path, conditional on the version just saved. Both sides then agree and both
   versions exist on both sides.
2. A remote delete moves the link itself into the trash; its target is not touched.
3. A remote move makes a link at the new path to the same target and moves the old link
   into the trash.

Each op first checks that the path is still the link the plan saw (the target's size,
mtime_ns and inode); otherwise ``LocalChanged``, as for a plain file.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.errors import ItemError
from syncd.local import write
from syncd.local.errors import LocalChanged, item_error
from syncd.local.trash import TrashReason, fsync_dir, make_dirs_durably
from syncd.planner import ops
from syncd.planner.names import Names, conflict_name
from syncd.planner.trees import Kind, LocalNode, RemoteNode
from syncd.worker.outcome import Outcome, Status

if TYPE_CHECKING:
    from syncd.worker.ops import OpContext

log = logging.getLogger("syncd.worker")

_ON_LINKS = (ops.Download, ops.KeepBoth, ops.TrashLocal, ops.MoveLocal)


def is_link_op(ctx: OpContext, op: ops.Op) -> bool:
    """True when ``op`` would change a local path that is a symbolic link (one lstat)."""
    if not isinstance(op, _ON_LINKS):
        return False
    local = op.local
    if local is None or local.is_dir:
        return False
    return ctx.local_path(op.path, local).is_symlink()


def run(ctx: OpContext, op: ops.Op) -> Outcome:
    """Carry out ``op`` on the link at ``op.path`` under the rules of the module docstring."""
    link = ctx.local_path(op.path, op.local)
    _check(link, op.local, op.path)
    match op:
        case ops.Download() | ops.KeepBoth():
            return _keep_link(ctx, op, link)
        case ops.TrashLocal():
            ctx.trash.put(link, op.path, TrashReason.REMOTE_DELETE)
            log.info("op=TrashLocal path=%s link=trashed target=kept", op.path)
            return Outcome(op, Status.DONE, base_drop=[op.path])
        case ops.MoveLocal():
            _move_link(ctx, op, link)
            return Outcome(op, Status.DONE, base_move=(op.path, op.dest))
    raise ItemError(f"{op.path!r} is a symbolic link; {type(op).__name__} is not done on it")


def _check(link: Path, expected: LocalNode | None, rel_path: str) -> None:
    """The path is still a link to the version the plan saw."""
    try:
        is_link = stat.S_ISLNK(os.lstat(link).st_mode)
        st = os.stat(link)
    except FileNotFoundError:
        is_link, st = False, None
    except OSError as exc:
        raise item_error(exc, rel_path, "read the link") from exc
    if (
        not is_link
        or st is None
        or expected is None
        or (st.st_size, st.st_mtime_ns, st.st_ino)
        != (expected.size, expected.mtime_ns, expected.inode)
    ):
        raise LocalChanged(
            f"{rel_path!r} is no longer what the plan saw", path=rel_path, hint="it is retried"
        )


def _copy_name(ctx: OpContext, op: ops.Op) -> str:
    if isinstance(op, ops.KeepBoth) and op.conflict_path:
        return op.conflict_path
    policy = ops.Policy(
        now=time.strftime("%Y-%m-%d %H%M%S"),
        host=socket.gethostname().split(".")[0] or "host",
    )
    return conflict_name(op.path, policy, Names(policy, ctx.local_tree, ctx.remote_tree))


def _keep_link(ctx: OpContext, op: ops.Download | ops.KeepBoth, link: Path) -> Outcome:
    """The remote version goes to a conflict copy; the link keeps the path (rule 1)."""
    from syncd.worker.ops import upload  # the executors of plain files

    remote = op.remote
    if remote is None or remote.is_dir:
        raise ItemError(
            f"{op.path!r} is a followed symbolic link; the server has no file there to keep",
            path=op.path,
            hint="remove or replace the link to sync this path",
        )
    copy_path = _copy_name(ctx, op)
    copy = ctx.local_path(copy_path)
    temp = write.temp_path_for(copy)
    try:
        with ctx.claim_space(copy, remote.size or 0, path=op.path):
            make_dirs_durably(copy.parent)
            result = ctx.client.files.download(
                ctx.workspace_id,
                op.path,
                temp,
                expected_hash=remote.hash,
                progress=ctx.transfer_progress(),
            )
            sig = write.install(
                temp,
                copy,
                expected=None,
                expected_hash=result.hash,
                verified_hash=result.hash,
                trash=ctx.trash,
                rel_path=copy_path,
            )
    finally:
        temp.unlink(missing_ok=True)
    log.info("op=%s path=%s link=kept remote_copy=%s", type(op).__name__, op.path, copy_path)
    saved = LocalNode(copy_path, Kind.FILE, sig.size, sig.mtime_ns, sig.inode, result.hash)
    copy_up = upload(ctx, copy_path, saved, None)
    seen = RemoteNode(
        op.path,
        Kind.FILE,
        result.size,
        remote.modified_time,
        result.revision if result.revision is not None else remote.revision,
        result.hash,
    )
    link_up = upload(ctx, op.path, op.local, seen)
    return Outcome(
        op,
        Status.DONE,
        bytes=result.size + copy_up.bytes + link_up.bytes,
        base_put=[*copy_up.base_put, *link_up.base_put],
        conflict=copy_path,
    )


def _move_link(ctx: OpContext, op: ops.MoveLocal, link: Path) -> None:
    """A link at ``op.dest`` to the same target, then the old link to the trash (rule 3)."""
    dest = ctx.local_path(op.dest)
    try:
        target = os.readlink(link)
        if not os.path.isabs(target):  # a relative link must still reach its target
            target = os.path.relpath(os.path.realpath(link), os.path.realpath(dest.parent))
        make_dirs_durably(dest.parent)
        os.symlink(target, dest)
    except FileExistsError as exc:
        raise LocalChanged(
            f"{op.path!r} cannot move: {dest.name!r} already exists",
            path=op.path,
            hint="both versions are kept",
        ) from exc
    except OSError as exc:
        raise item_error(exc, op.path, "move the link") from exc
    fsync_dir(dest.parent)
    ctx.trash.put(link, op.path)
