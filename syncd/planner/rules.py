"""The decision table of docs/design.md: (local vs base, remote vs base) -> one op for one path.

1. ``TABLE`` is the table, row for row; ``MERGE`` is its first-sync / after-reset form
   (nothing is deleted, the base only says what is unchanged).
2. A path decided here sees trees where moves, type changes and name clashes are already
   applied (plan.py), so both sides hold the same kind wherever both hold the path.
3. When a fact is missing (a local hash, remote bytes on a base-only server) the path gets
   no op but a ``Need``; nothing is guessed. On a base-only server our own upload is
   taken as such only once the hash of the server's bytes equals the hash we sent
   (``is_unconfirmed``); until then the base holds no server time for it.
4. A new server revision of what the base agreed on (``is_echo``: our own upload coming
   back through the feed, a folder whose revision or time moved) is no change: the path
   gets a ``RecordBase`` (``REMOTE_ECHO``) that adopts the revision, so the next sync
   stays quiet. The base changes only through that op, never while facts are gathered.
5. ``collapse_deletes`` (below the table) turns per-path directory deletes into one delete
   of the topmost directory, or keeps the directory when anything under it survives.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import replace
from enum import Enum

from syncd.paths import is_within
from syncd.planner.names import Names, conflict_name
from syncd.planner.ops import (
    DeleteRemote,
    Download,
    ForgetBase,
    KeepBoth,
    MkdirLocal,
    MkdirRemote,
    Op,
    Policy,
    Reason,
    RecordBase,
    TrashLocal,
    Upload,
)
from syncd.planner.trees import BaseNode, LocalNode, RemoteNode


class State(Enum):
    ABSENT = "absent"  # neither the side nor the base has the path
    NEW = "new"  # the side has it, the base does not
    SAME = "same"
    TOUCHED = "touched"  # same content, but the base's facts are stale (refresh them)
    CHANGED = "changed"
    DELETED = "deleted"


class Act(Enum):
    NOTHING = "nothing"
    UPLOAD = "upload"
    DOWNLOAD = "download"
    DELETE_REMOTE = "delete_remote"
    TRASH_LOCAL = "trash_local"
    COMPARE = "compare"  # equal content: record the base; different: keep both
    FORGET = "forget"


S, C, N, D, A = State.SAME, State.CHANGED, State.NEW, State.DELETED, State.ABSENT

# (local vs base, remote vs base) -> (action, reason)
TABLE: dict[tuple[State, State], tuple[Act, Reason]] = {
    (S, S): (Act.NOTHING, Reason.UNCHANGED),
    (C, S): (Act.UPLOAD, Reason.LOCAL_CHANGED),
    (N, A): (Act.UPLOAD, Reason.LOCAL_NEW),
    (S, C): (Act.DOWNLOAD, Reason.REMOTE_CHANGED),
    (A, N): (Act.DOWNLOAD, Reason.REMOTE_NEW),
    (D, S): (Act.DELETE_REMOTE, Reason.LOCAL_DELETED),
    (S, D): (Act.TRASH_LOCAL, Reason.REMOTE_DELETED),
    (C, D): (Act.UPLOAD, Reason.EDIT_BEATS_DELETE),
    (D, C): (Act.DOWNLOAD, Reason.EDIT_BEATS_DELETE),
    (C, C): (Act.COMPARE, Reason.BOTH_CHANGED),
    (N, N): (Act.COMPARE, Reason.BOTH_CHANGED),
    (D, D): (Act.FORGET, Reason.BOTH_DELETED),
}


def merge_row(local: State, remote: State) -> tuple[Act, Reason]:
    """First sync or reset: copy what one side lacks, compare the rest, delete nothing."""
    has_local = local not in (D, A)
    has_remote = remote not in (D, A)
    if has_local and not has_remote:
        return Act.UPLOAD, Reason.MERGE_LOCAL_ONLY
    if has_remote and not has_local:
        return Act.DOWNLOAD, Reason.MERGE_REMOTE_ONLY
    if not has_local:
        return Act.FORGET, Reason.BOTH_DELETED
    if local in (S, State.TOUCHED) and remote in (S, State.TOUCHED):
        return Act.NOTHING, Reason.UNCHANGED
    return Act.COMPARE, Reason.MERGE_DIFFERENT


def local_state(local: LocalNode | None, base: BaseNode | None) -> State:
    """A local file changed when size, mtime_ns or inode moved (or a known hash differs)."""
    if local is None:
        return A if base is None else D
    if base is None:
        return N
    if local.kind is not base.kind:
        return C
    if local.is_dir:
        return S
    hashes_known = local.hash is not None and base.hash is not None
    stat_same = (local.size, local.mtime_ns, local.inode) == (
        base.size,
        base.local_mtime_ns,
        base.local_inode,
    )
    if stat_same:
        return C if hashes_known and local.hash != base.hash else S
    return State.TOUCHED if hashes_known and local.hash == base.hash else C


def remote_state(
    remote: RemoteNode | None, base: BaseNode | None, hashes: Mapping[str, str] | None = None
) -> State:
    """A remote file changed when its revision moved (E1); without E1, size or time.

    ``hashes`` (``Policy.remote_hashes``) settles an unconfirmed upload; without its hash
    the file counts as changed, which never loses anything (``decide`` asks for it).
    """
    if remote is None:
        return A if base is None else D
    if base is None:
        return N
    if remote.kind is not base.kind:
        return C
    if remote.is_dir:
        return S
    if remote.hash is not None and base.hash is not None:
        if remote.hash != base.hash:
            return C
        return S if remote.revision == base.remote_revision else State.TOUCHED
    if remote.revision is not None and base.remote_revision is not None:
        return S if remote.revision == base.remote_revision else C
    if is_unconfirmed(remote, base):
        digest = (hashes or {}).get(base.path)
        return State.TOUCHED if digest is not None and digest == base.hash else C
    same = remote.size == base.size and remote.modified_time == base.remote_modified_time
    return S if same else C


def is_unconfirmed(remote: RemoteNode, base: BaseNode) -> bool:
    """Our upload to a base-only server, not yet confirmed: the base lacks the server's time.

    A PUT there answers without the entry, and a listing shows only size and time, so an
    entry of the size we sent may as well be another client's write that landed after
    ours. Only the hash of its bytes, against the hash of what we sent, tells them apart;
    a different size is a change without any doubt.
    """
    return (
        not base.is_dir
        and base.hash is not None
        and base.remote_revision is None
        and base.remote_modified_time is None
        and remote.revision is None
        and remote.hash is None
        and remote.size == base.size
    )


def is_echo(remote: RemoteNode | None, base: BaseNode | None) -> bool:
    """The server shows a new revision of what the base agreed on.

    A PUT answers 204 without the new revision, so our own upload comes back through the
    feed as a change; with the same hash it is no change at all. A folder's revision and
    time are facts of the server alone. A base-only server shows no hash, and an entry of
    the size we sent may be another client's write: ``is_unconfirmed`` proves those by the
    hash of their bytes, never this.
    """
    if remote is None or base is None or remote.kind is not base.kind:
        return False
    if base.is_dir:
        return (remote.revision, remote.modified_time) != (
            base.remote_revision,
            base.remote_modified_time,
        )
    return (
        remote.hash is not None
        and remote.hash == base.hash
        and remote.revision != base.remote_revision
    )


def same_content(local: LocalNode, remote: RemoteNode, policy: Policy) -> bool | str | None:
    """True / False when known; "local" or "remote" names the fact that is missing."""
    if local.is_dir or remote.is_dir:
        return local.kind is remote.kind
    if local.size is not None and remote.size is not None and local.size != remote.size:
        return False
    if remote.hash is not None:
        return "local" if local.hash is None else local.hash == remote.hash
    if local.path in policy.remote_hashes:
        fetched = policy.remote_hashes[local.path]
        return "local" if local.hash is None else local.hash == fetched
    if local.path in policy.equal_contents:
        return True
    if local.path in policy.different_contents:
        return False
    return "remote"


def decide(
    path: str,
    local: LocalNode | None,
    remote: RemoteNode | None,
    base: BaseNode | None,
    policy: Policy,
    names: Names,
) -> Op | str | None:
    """The op for one path, None for nothing, or the missing fact: "local" (a local hash),
    "remote" (remote bytes to compare) or "remote_hash" (remote bytes to hash)."""
    if (
        remote is not None
        and base is not None
        and is_unconfirmed(remote, base)
        and path not in policy.remote_hashes
        and path not in policy.different_contents  # unsure: counts as changed
    ):
        return "remote_hash"
    lstate = local_state(local, base)
    rstate = remote_state(remote, base, policy.remote_hashes)
    if policy.is_merge:
        act, reason = merge_row(lstate, rstate)
    else:
        key = (S if lstate is State.TOUCHED else lstate, S if rstate is State.TOUCHED else rstate)
        act, reason = TABLE[key]
    if act is Act.NOTHING:
        # Same content, stale facts in the base: refresh them, so the next sync stays quiet.
        if State.TOUCHED in (lstate, rstate) and local is not None and remote is not None:
            if path in policy.remote_hashes and base is not None:
                # The server's bytes proved to be our upload: only now is its time ours.
                if local.hash is None:
                    local = replace(local, hash=base.hash)
                return RecordBase(path, Reason.UPLOAD_CONFIRMED, local=local, remote=remote)
            if lstate is State.SAME and base is not None and is_echo(remote, base):
                return RecordBase(path, Reason.REMOTE_ECHO, local=local, remote=remote)
            return RecordBase(path, Reason.UNCHANGED, local=local, remote=remote)
        if local is not None and base is not None and is_echo(remote, base):
            return RecordBase(path, Reason.REMOTE_ECHO, local=local, remote=remote)
        return None
    if act is Act.UPLOAD:
        assert local is not None
        if local.is_dir:
            return MkdirRemote(path, reason)
        return Upload(path, reason, local=local, remote=remote)
    if act is Act.DOWNLOAD:
        assert remote is not None
        if remote.is_dir:
            return MkdirLocal(path, reason)
        return Download(path, reason, remote=remote, local=local)
    if act is Act.DELETE_REMOTE:
        return DeleteRemote(path, reason, remote=remote)
    if act is Act.TRASH_LOCAL:
        return TrashLocal(path, reason, local=local)
    if act is Act.FORGET:
        return ForgetBase(path, reason)
    assert local is not None and remote is not None
    equal = same_content(local, remote, policy)
    if isinstance(equal, str):
        return equal
    if equal:
        return RecordBase(path, Reason.BOTH_EQUAL, local=local, remote=remote)
    conflict = conflict_name(path, policy, names)
    return KeepBoth(path, reason, conflict_path=conflict, local=local, remote=remote)


# Special cases below the table.


def below(sorted_paths: list[str], root: str) -> list[str]:
    """The paths strictly under ``root``: one contiguous run of a sorted list."""
    prefix = root + "/"
    start = bisect_left(sorted_paths, prefix)
    end = bisect_left(sorted_paths, root + "0")  # "0" is the code point after "/"
    return sorted_paths[start:end]


def _blocked(path: str, unknown: Iterable[str]) -> bool:
    return any(is_within(u, path) for u in unknown)


def collapse_deletes(
    ops: dict[str, Op],
    local: Mapping[str, LocalNode],
    remote: Mapping[str, RemoteNode],
    policy: Policy,
) -> dict[str, Op]:
    """One delete per deleted directory, and never a delete of what the other side kept.

    A directory deleted on one side is deleted whole on the other only when every entry
    under it there is itself being deleted (known to the base, unchanged) and nothing
    unknown lies below it; otherwise the directory stays (re-created where it was deleted)
    and only its known, unchanged entries go, one by one. Prevents: removing children the
    other side added or edited, and ignored or unreadable files.
    """
    out = dict(ops)
    # Unknown paths are left out of every tree, so either set may hide an entry on either side.
    unknown = policy.local_unknown | policy.remote_unknown
    for kind, tree, keep in (
        (TrashLocal, local, MkdirRemote),
        (DeleteRemote, remote, MkdirLocal),
    ):
        dirs = sorted(p for p, op in ops.items() if isinstance(op, kind) and tree[p].is_dir)
        if not dirs:
            continue
        paths = sorted(tree)
        whole: list[str] = []
        for path in dirs:
            under = below(paths, path)
            if _blocked(path, unknown) or not all(isinstance(ops.get(p), kind) for p in under):
                out[path] = keep(path, Reason.EDIT_BEATS_DELETE)
            else:
                whole.append(path)
        for path in whole:  # sorted: an outer directory comes before the ones inside it
            if out.get(path) is None:
                continue  # an outer directory goes whole and took this one along
            for p in below(paths, path):
                if isinstance(out.get(p), kind):
                    del out[p]
    return out
