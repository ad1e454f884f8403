"""One executor per op kind: each checks the facts the plan saw, acts, and observes the result.

1. A local overwrite or delete happens only if the file is still what the plan saw, and the
   old version goes to the trash first (``syncd.local.write``); a changed file is a re-plan.
2. A remote overwrite, delete or move carries the revision the plan saw when the server has
   E4; a 412 is a re-plan, never a force.
3. The base is built from what is observed after the op (the stat of the installed file, the
   hash of the bytes actually sent), never from the plan.
4. An op that would change a followed symbolic link goes to ``links.py`` instead: nothing
   is written through a link, and no link is replaced by a file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.errors import ItemError, Replan
from syncd.local import write
from syncd.local.downloads import Downloads
from syncd.local.hashing import StatSig
from syncd.local.space import SpaceGuard
from syncd.local.spelling import place_on_disk
from syncd.local.trash import Trash, TrashReason, make_dirs_durably
from syncd.planner import ops
from syncd.planner.trees import BaseNode, Kind, LocalNode, RemoteNode
from syncd.transport.models import Entry
from syncd.transport.progress import PathSink, PerTransfer
from syncd.worker import links
from syncd.worker.observed import dir_base as _dir_base
from syncd.worker.observed import file_base as _file_base
from syncd.worker.observed import stat_of as _stat
from syncd.worker.outcome import Outcome, Status
from syncd.worker.phases import Batching

if TYPE_CHECKING:
    from syncd.transport.client import Client

log = logging.getLogger("syncd.worker")


@dataclass
class OpContext:
    """What every executor may use: handed in by the reconciler, never built here."""

    client: Client
    workspace_id: str
    root: Path
    trash: Trash
    progress: PathSink | None = None
    is_conditional: bool = True
    local_tree: Mapping[str, LocalNode] = field(default_factory=dict)
    remote_tree: Mapping[str, RemoteNode] = field(default_factory=dict)
    downloads: Downloads | None = None  # where large downloads wait out a restart
    batching: Batching | None = None  # small files in E5/E6 batches; None: one request each
    links: frozenset[str] = frozenset()  # followed symbolic links: their ops run alone
    space: SpaceGuard = field(default_factory=SpaceGuard)  # min_free_space, before downloads

    def transfer_progress(self) -> PerTransfer | None:
        """A per-transfer reporter onto the shared display (None: nobody is watching)."""
        return PerTransfer(self.progress) if self.progress is not None else None

    def known_under(self, rel: str) -> dict[str, LocalNode]:
        """The plan's local nodes below a folder: only these may go to the trash with it."""
        prefix = rel + "/"
        return {p: n for p, n in self.local_tree.items() if p.startswith(prefix)}

    def claim_space(
        self, target: Path, incoming: int, *, path: str, what: str | None = None
    ) -> AbstractContextManager[None]:
        """Hold ``incoming`` bytes of the disk that will hold ``target`` for a download,
        or ``LowDiskSpace`` before anything is written (``syncd.local.space``)."""
        folder = target.parent
        while not folder.is_dir() and folder != self.root and self.root in folder.parents:
            folder = folder.parent
        return self.space.claim(folder, incoming, path=path, what=what)

    def local_path(self, rel: str, node: LocalNode | None = None) -> Path:
        """Where ``rel`` is (or goes) on disk, spelled as the disk spells what exists.

        A folder another program created in NFD keeps that spelling; a new file or folder
        below it must go into that folder, not into an NFC twin that does not exist.
        """
        if node is not None and node.disk_name:
            return self.root / node.disk_name
        parts = rel.split("/")
        for end in range(len(parts), 0, -1):
            found = self.local_tree.get("/".join(parts[:end]))
            if found is not None:
                if not found.disk_name:
                    break
                return self.root / "/".join([found.disk_name, *parts[end:]])
        if rel.isascii():
            return self.root / rel  # one spelling only
        # A scoped plan holds no node of the folders above (a slice, the daemon's dirty
        # paths): ask the disk how it spells them.
        return place_on_disk(self.root, rel)


def _revision(node: RemoteNode | None) -> int | None:
    return node.revision if node is not None else None


def _expected(ctx: OpContext, node: RemoteNode | None) -> Entry | None:
    """On a base-only server, what the plan saw, for the transport to compare with a fresh
    listing before it overwrites, deletes or moves (E4 does this in one request)."""
    if ctx.is_conditional or node is None:
        return None
    return Entry(node.path, node.kind, node.size, node.modified_time, node.revision, node.hash)


def upload(
    ctx: OpContext,
    path: str,
    local: LocalNode | None,
    remote: RemoteNode | None,
    *,
    source_path: str | None = None,
) -> Outcome:
    """Send the local file; record the hash of the bytes sent with the stat seen before them.

    If the file's stat after the upload differs from the one before, the local facts are left
    out of the base, so the next scan sees a change and compares by hash: a write that raced
    the upload is never mistaken for the synced version.

    The server's facts come only from the answer: a PUT answers without the entry, so the
    base holds no revision or time for it. A full server's feed then proves the echo by
    its hash; on a base-only server no listing can prove it (another client's write of the
    same size may land before any listing of ours), so the planner confirms it later by
    the hash of the server's bytes (``rules.is_unconfirmed``). ``source_path``: the local
    file to send when it is not ``path`` (an upload-only conflict copy).
    """
    source = ctx.local_path(source_path or path, local)
    before = _stat(source)
    if before is None:
        raise Replan(f"{path}: vanished before upload")
    result = ctx.client.files.upload(
        ctx.workspace_id,
        path,
        source,
        if_revision=_revision(remote) if ctx.is_conditional else None,
        create_only=remote is None and ctx.is_conditional,
        expected=_expected(ctx, remote),
        progress=ctx.transfer_progress(),
    )
    after = _stat(source)
    sig = before if after == before else None
    entry = result.entry.to_remote_node() if result.entry is not None else None
    base = _file_base(path, result.size, result.hash, sig, entry)
    return Outcome(
        ops.Upload(path, ops.Reason.LOCAL_CHANGED), Status.DONE, bytes=result.size, base_put=[base]
    )


def download(
    ctx: OpContext, path: str, remote: RemoteNode | None, local: LocalNode | None
) -> Outcome:
    """Fetch to a temp file, verify, then install over what the plan saw.

    A large file is staged in the downloads area, where a download broken by a restart
    is continued; anything else goes to a temp name beside the target. Either way the
    body must have the listed size and hash, or nothing is installed (a re-plan).
    """
    assert remote is not None
    target = ctx.local_path(path, local)
    with ctx.claim_space(target, remote.size or 0, path=path):
        return _fetch_and_install(ctx, path, remote, local, target)


def _fetch_and_install(
    ctx: OpContext, path: str, remote: RemoteNode, local: LocalNode | None, target: Path
) -> Outcome:
    make_dirs_durably(target.parent)
    staged = ctx.downloads.stage(path, remote, target.parent) if ctx.downloads else None
    temp = staged.part if staged is not None else write.temp_path_for(target)
    try:
        result = ctx.client.files.download(
            ctx.workspace_id,
            path,
            temp,
            expected_hash=remote.hash,
            expected_size=remote.size,
            progress=ctx.transfer_progress(),
            resume_etag=staged.resume_etag if staged is not None else None,
            on_etag=staged.remember if staged is not None else None,
        )
    except BaseException:
        if staged is not None:
            staged.settle()  # a partial the transport kept waits for the next try
        else:
            temp.unlink(missing_ok=True)
        raise
    try:
        sig = write.install(
            temp,
            target,
            expected=local,
            expected_hash=result.hash,
            verified_hash=result.hash,  # hashed while written and fsynced by the transport
            trash=ctx.trash,
            rel_path=path,
            reason=TrashReason.REMOTE_CHANGE,
        )
    finally:
        temp.unlink(missing_ok=True)
        if staged is not None:
            staged.discard()
    revision = result.revision if result.revision is not None else remote.revision
    seen = RemoteNode(
        path=path,
        kind=Kind.FILE,
        size=result.size,
        modified_time=remote.modified_time,
        revision=revision,
        hash=result.hash,
    )
    base = _file_base(path, result.size, result.hash, sig, seen)
    return Outcome(
        ops.Download(path, ops.Reason.REMOTE_CHANGED),
        Status.DONE,
        bytes=result.size,
        base_put=[base],
    )


def run_op(ctx: OpContext, op: ops.Op) -> Outcome:
    """Execute one op; a ``Replan`` or ``ItemError`` becomes an Outcome, not an exception."""
    try:
        outcome = links.run(ctx, op) if links.is_link_op(ctx, op) else _dispatch(ctx, op)
    except Replan as exc:
        return Outcome(op, Status.REPLAN, error=exc)
    except ItemError as exc:
        return Outcome(op, Status.FAILED, error=exc)
    outcome.op = op
    return outcome


def _dispatch(ctx: OpContext, op: ops.Op) -> Outcome:
    match op:
        case ops.Upload():
            return upload(ctx, op.path, op.local, op.remote)
        case ops.Download():
            return download(ctx, op.path, op.remote, op.local)
        case ops.KeepBoth():
            return keep_both(ctx, op)
        case ops.UploadCopy():
            return upload_copy(ctx, op)
        case ops.MkdirLocal():
            sig = write.mkdir(ctx.local_path(op.path), rel_path=op.path)
            return Outcome(op, Status.DONE, base_put=[_dir_base(op.path, sig=sig)])
        case ops.MkdirRemote():
            ctx.client.files.mkdir(ctx.workspace_id, op.path)
            sig = _stat(ctx.local_path(op.path))
            return Outcome(op, Status.DONE, base_put=[_dir_base(op.path, sig=sig)])
        case ops.MoveRemote():
            ctx.client.files.move(
                ctx.workspace_id,
                op.path,
                op.dest,
                if_revision=_revision(op.remote) if ctx.is_conditional else None,
                expected=_expected(ctx, op.remote),
            )
            return Outcome(op, Status.DONE, base_move=(op.path, op.dest))
        case ops.MoveLocal():
            dest = ctx.local_path(op.dest)
            make_dirs_durably(dest.parent)
            write.rename(ctx.local_path(op.path, op.local), dest, op.local, rel_path=op.path)
            if op.reason is ops.Reason.UNICODE_TWIN:  # the base describes the other spelling
                return Outcome(op, Status.DONE)
            return Outcome(op, Status.DONE, base_move=(op.path, op.dest))
        case ops.DeleteRemote():
            if op.remote is not None and op.remote.is_dir:
                _check_remote_subtree(ctx, op.path)
            ctx.client.files.delete(
                ctx.workspace_id,
                op.path,
                if_revision=_revision(op.remote)
                if ctx.is_conditional and op.remote is not None and not op.remote.is_dir
                else None,
                expected=_expected(ctx, op.remote) if op.remote and not op.remote.is_dir else None,
            )
            return Outcome(op, Status.DONE, base_drop=[op.path])
        case ops.TrashLocal():
            write.trash_path(
                ctx.local_path(op.path, op.local),
                op.local,
                trash=ctx.trash,
                rel_path=op.path,
                known=ctx.known_under(op.path) if op.local and op.local.is_dir else None,
                reason=TrashReason.EXCLUDED
                if op.reason is ops.Reason.EXCLUDED
                else TrashReason.REMOTE_DELETE,
            )
            return Outcome(op, Status.DONE, base_drop=[op.path])
        case ops.RecordBase():
            return Outcome(op, Status.DONE, base_put=[record_base(op)])
        case ops.ForgetBase():
            return Outcome(op, Status.DONE, base_drop=[op.path])
    raise ItemError(f"unknown op {type(op).__name__}", path=op.path)


def _check_remote_subtree(ctx: OpContext, path: str) -> None:
    """A remote folder is deleted whole, so first make sure it holds only what the plan saw.

    DELETE takes a folder with everything in it and no condition covers the subtree, so
    a file another client put there since the plan was made would go with it: a fresh
    listing shows such a file, and the delete becomes a re-plan instead.
    """
    prefix = path + "/"
    for entry in ctx.client.files.list(ctx.workspace_id):
        if not entry.path.startswith(prefix):
            continue
        seen = ctx.remote_tree.get(entry.path)
        if seen is None or (seen.kind, seen.size, seen.hash, seen.revision) != (
            entry.type,
            entry.size,
            entry.hash,
            entry.revision,
        ):
            raise Replan(f"{path}: the server folder holds {entry.path!r}, unseen by the plan")


def record_base(op: ops.RecordBase) -> BaseNode:
    """Both sides agree: the base takes the local stat and the remote revision."""
    local, remote = op.local, op.remote
    kind = (local or remote).kind  # type: ignore[union-attr]
    if kind is Kind.DIR:
        inode = local.inode if local is not None else None
        sig = StatSig(0, 0, inode, 0) if inode is not None else None
        return _dir_base(op.path, remote, sig=sig)
    hash_ = (local.hash if local else None) or (remote.hash if remote else None)
    size = local.size if local and local.size is not None else (remote.size if remote else 0)
    sig = (
        StatSig(
            size=local.size or 0, mtime_ns=local.mtime_ns or 0, inode=local.inode or 0, ctime_ns=0
        )
        if local is not None
        else None
    )
    return _file_base(op.path, size or 0, hash_, sig, remote)


def keep_both(ctx: OpContext, op: ops.KeepBoth) -> Outcome:
    """Conflict: the local version moves aside and is uploaded; the remote one takes the path.

    Each step leaves both versions somewhere: after the rename the local bytes live at the
    conflict name (locally), after the upload also remotely, and only then is the remote
    version installed at the path, which the rename left free.
    """
    local, remote = op.local, op.remote
    outcome = Outcome(op, Status.DONE, conflict=op.conflict_path)
    if local is not None:
        source = ctx.local_path(op.path, local)
        write.rename(source, ctx.local_path(op.conflict_path), local, rel_path=op.path)
        log.info("op=KeepBoth path=%s conflict_copy=%s", op.path, op.conflict_path)
        if local.is_dir:
            outcome.base_move = None
        elif op.upload_copy:
            moved = LocalNode(
                op.conflict_path, Kind.FILE, local.size, local.mtime_ns, local.inode, local.hash
            )
            up = upload(ctx, op.conflict_path, moved, None)
            outcome.base_put.extend(up.base_put)
            outcome.bytes += up.bytes
    if remote is not None and not remote.is_dir:
        down = download(ctx, op.path, remote, None)
        outcome.base_put.extend(down.base_put)
        outcome.bytes += down.bytes
    elif remote is not None:
        sig = write.mkdir(ctx.local_path(op.path), rel_path=op.path)
        outcome.base_put.append(_dir_base(op.path, remote, sig=sig))
    return outcome


def upload_copy(ctx: OpContext, op: ops.UploadCopy) -> Outcome:
    """Upload-only conflict: the local bytes go up under ``dest``; nothing local changes.

    The base at ``path`` takes the local file (with the hash of the bytes sent) and no
    server facts, as after an upload that is not confirmed: the remote version differs
    from that hash, so it counts as a remote change (on a base-only server once its bytes
    are hashed). Upload-only leaves it; a two-way pass downloads it, the local version
    being on the server already. No base row for ``dest``: it exists only remotely.
    """
    local = op.local
    assert local is not None
    up = upload(ctx, op.dest, local, None, source_path=op.path)
    outcome = Outcome(op, Status.DONE, conflict=op.dest, bytes=up.bytes)
    sent = up.base_put[0] if up.base_put else None
    if sent is not None and sent.hash is not None:
        seen = replace(local, path=op.path, hash=sent.hash)
        outcome.base_put.append(record_base(ops.RecordBase(op.path, op.reason, seen, None)))
    log.info("op=UploadCopy path=%s dest=%s", op.path, op.dest)
    return outcome
