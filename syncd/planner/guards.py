"""Guards: refuse a plan that looks like an accident rather than a wish.

1. ``root_vanished``: the folder's identity marker is gone (unmounted disk, replaced or
   renamed folder) while the base says it held files; or the whole folder is empty and the
   plan would delete more of the server's files than the mass-delete count because of it
   (deleting the last few files by hand is an ordinary edit, not an accident).
2. ``mass_delete``: one sync would delete more than ``max_delete_ratio`` of one side's
   files AND more than ``max_delete_count`` of them; a deleted directory counts every file
   under it. ``allow_mass_delete`` is the user's consent for this run.
3. Guards never raise and never drop ops: they add ``Refusal`` values and leave the ops in
   the plan, so ``--dry-run`` can show what would have happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from syncd.planner.ops import DeleteRemote, Op, Policy, Refusal, RefusalKind, TrashLocal
from syncd.planner.rules import below
from syncd.planner.trees import BaseNode, LocalNode, RemoteNode


def _files(tree: Mapping[str, LocalNode] | Mapping[str, RemoteNode]) -> list[str]:
    return [p for p, node in tree.items() if not node.is_dir]


def deleted_files(
    ops: Iterable[Op], kind: type[Op], tree: Mapping[str, LocalNode] | Mapping[str, RemoteNode]
) -> list[str]:
    """Every file a delete op of ``kind`` removes from ``tree`` (directories count their files)."""
    gone: list[str] = []
    paths: list[str] | None = None
    for op in ops:
        node = tree.get(op.path) if isinstance(op, kind) else None
        if node is None:
            continue
        if not node.is_dir:
            gone.append(op.path)
            continue
        paths = sorted(tree) if paths is None else paths
        gone.extend(p for p in below(paths, op.path) if not tree[p].is_dir)
    return sorted(gone)


def _mass(
    side: str, gone: Sequence[str], total: int, policy: Policy, count: int = -1
) -> Refusal | None:
    count = len(gone) if count < 0 else count
    if policy.allow_mass_delete or not count:
        return None
    if count > policy.max_delete_count and count > policy.max_delete_ratio * total:
        return Refusal(
            RefusalKind.MASS_DELETE,
            f"this sync would delete {count} of {total} files {side} (more than "
            f"{policy.max_delete_ratio:.0%} and more than {policy.max_delete_count}); "
            "nothing was changed; use --allow-mass-delete to consent",
            tuple(gone),
        )
    return None


def check_counts(
    gone: tuple[Sequence[str], Sequence[str]],
    counts: tuple[int, int],
    totals: tuple[int, int, int],
    policy: Policy,
) -> tuple[Refusal, ...]:
    """The refusals of ``check`` for a plan made in slices: every slice's deletes, counted
    against whole sides. ``gone``: (local, remote) deleted files, perhaps a sample;
    ``counts``: how many in all; ``totals``: the files of the disk, the server, the base."""
    local_files, remote_files, base_files = totals
    refusals: list[Refusal] = []
    if (
        local_files == 0
        and counts[1]
        and not policy.allow_mass_delete
        and base_files > policy.max_delete_count
    ):
        refusals.append(
            Refusal(
                RefusalKind.ROOT_VANISHED,
                f"the local folder is empty but held {base_files} files at the last sync; "
                "refusing to delete them on the server; use --allow-mass-delete to consent",
                tuple(gone[1]),
            )
        )
    for side, sample, count, total in (
        ("in the local folder", gone[0], counts[0], local_files),
        ("on the server", gone[1], counts[1], remote_files),
    ):
        refusal = _mass(side, sample, total, policy, count)
        if refusal is not None:
            refusals.append(refusal)
    return tuple(refusals)


def check(
    ops: tuple[Op, ...],
    local: Mapping[str, LocalNode],
    remote: Mapping[str, RemoteNode],
    base: Mapping[str, BaseNode],
    policy: Policy,
) -> tuple[Refusal, ...]:
    """The refusals for a plan; the trees are those the op paths refer to."""
    refusals: list[Refusal] = []
    remote_gone = deleted_files(ops, DeleteRemote, remote)
    local_files = policy.local_files if policy.local_files is not None else len(_files(local))
    remote_files = policy.remote_files if policy.remote_files is not None else len(_files(remote))
    emptied = local_files == 0 and bool(remote_gone) and not policy.allow_mass_delete
    base_files = (
        sum(1 for n in base.values() if not n.is_dir) if emptied or not policy.root_marker_ok else 0
    )
    emptied = emptied and base_files > policy.max_delete_count
    if not policy.root_marker_ok and base:
        refusals.append(
            Refusal(
                RefusalKind.ROOT_VANISHED,
                "the local folder is not the one synced before (its marker is gone) while "
                f"the last sync saw {base_files} files in it; nothing was changed",
            )
        )
    elif emptied and base_files:
        refusals.append(
            Refusal(
                RefusalKind.ROOT_VANISHED,
                f"the local folder is empty but held {base_files} files at the last sync; "
                "refusing to delete them on the server; use --allow-mass-delete to consent",
                tuple(remote_gone),
            )
        )
    for side, gone, total in (
        ("in the local folder", deleted_files(ops, TrashLocal, local), local_files),
        ("on the server", remote_gone, remote_files),
    ):
        refusal = _mass(side, gone, total, policy)
        if refusal is not None:
            refusals.append(refusal)
    return tuple(refusals)
