"""``plan(local, remote, base, policy) -> Plan``: the pure heart of a sync.

The stages, each applied to the trees before the next one looks at them:

1. Paths under ``policy.local_unknown`` / ``remote_unknown`` are left out (never deleted).
   A name the disk holds in two Unicode spellings gets renames for all spellings but one
   (names.py) and is left out too, until the next round sees each spelling once.
2. moves.py pairs disappearances with appearances (local moves first, then remote ones);
   not in a merge, which must delete nothing (a move deletes the old name).
3. Type changes: where one side holds a file and the other a directory, the other side
   follows a change made on one side only, else the file steps aside to a conflict name
   (kinds.py); name clashes on a case-folding disk (names.py).
4. rules.py decides every remaining path by the table; in a one-way mode (modes.py) only
   the ops that write the allowed side remain; directory deletes are collapsed.
5. The ops are ordered into phases; guards.py adds refusals.

What the worker may rely on (the order of ``Plan.ops`` is the execution order):

1. Phases run one after the other; the ops of one phase touch disjoint paths and may run
   in parallel (``Plan.phases``). The phases are:
   a. structure: moves and mkdirs sorted by the depth of the path they create, a move
      before a mkdir at the same depth. Each move is a phase of its own (a later move may
      name its source as it is after an earlier one); mkdirs of one depth share a phase.
      So parents exist before children and a moved directory before anything inside it.
      The delete of a file that a directory replaces (a type change the other side
      follows) is a phase of its own just before the moves and mkdirs of its depth.
   b. the deletes of directories that a file replaces (type changes followed), one phase:
      after every move (one may take something out of such a directory first) and
      before the file is copied in.
   c. transfers: Upload, Download, KeepBoth, RecordBase (one phase; echoes of the
      server's new revisions are RecordBase ops too).
   d. deletes: TrashLocal, DeleteRemote, ForgetBase, deepest first (one phase). These
      come after moves and transfers; a deleted directory never has its own children
      deleted by a second op.
2. Paths of ops after a move are spelled as after that move. An op inside a directory
   that a MoveRemote moved carries the remote node as seen before the move; the server
   gives moved entries new revisions, so such an op may answer 412: re-plan that path.
3. When ``Plan.need`` is set, the ops cover every other path; gather the facts and plan
   again before running anything (the ops are there for ``--dry-run``). A need names a
   path that exists now on the server, and on disk too for a local hash or a comparison
   (never one that only a planned move would create).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from syncd.paths import is_within
from syncd.planner import guards
from syncd.planner.exclude import exclusion_phases
from syncd.planner.kinds import resolve_type_changes
from syncd.planner.modes import apply_mode, held_names, keep_allowed
from syncd.planner.moves import Trees, find_local_moves, find_remote_moves
from syncd.planner.names import Names, rename_twins, resolve_clashes
from syncd.planner.ops import (
    DeleteRemote,
    Download,
    ForgetBase,
    MkdirLocal,
    MkdirRemote,
    Mode,
    MoveLocal,
    MoveRemote,
    Need,
    Op,
    Plan,
    Policy,
    Reason,
    TrashLocal,
    Upload,
)
from syncd.planner.rules import (
    State,
    collapse_deletes,
    decide,
    is_echo,
    local_state,
    remote_state,
)
from syncd.planner.trees import BaseTree, LocalTree, RemoteTree

MOVES = (MoveLocal, MoveRemote)
MKDIRS = (MkdirLocal, MkdirRemote)
DELETES = (TrashLocal, DeleteRemote, ForgetBase)
COPIES = (Upload, Download, MkdirLocal, MkdirRemote)


def _depth(path: str) -> int:
    return path.count("/")


def _known(tree: Mapping[str, object], unknown: frozenset[str]) -> dict:
    if not unknown:
        return dict(tree)
    return {p: n for p, n in tree.items() if not any(is_within(p, u) for u in unknown)}


def _decide_all(
    trees: Trees, seen: Trees, policy: Policy, names: Names
) -> tuple[dict[str, Op], Need | None]:
    """Every path by the table; ``seen`` holds the trees before any move was applied."""
    ops: dict[str, Op] = {}
    local_hashes: set[str] = set()
    remote_contents: set[str] = set()
    remote_hashes: set[str] = set()
    for path in sorted(set(trees.local) | set(trees.remote) | set(trees.base)):
        local, remote, base = trees.local.get(path), trees.remote.get(path), trees.base.get(path)
        if (
            local_state(local, base) is State.SAME
            and remote_state(remote, base) is State.SAME
            and not is_echo(remote, base)  # a folder's new revision: record it
        ):
            continue  # the common case, by far: nothing happened at this path
        got = decide(path, local, remote, base, policy, names)
        moved = local is not seen.local.get(path) or remote is not seen.remote.get(path)
        if isinstance(got, str) and moved:
            # The fact lives under another name until a move has run: keep both instead.
            unsure = replace(policy, different_contents=policy.different_contents | {path})
            got = decide(path, local, remote, base, unsure, names)
        if got == "local":
            local_hashes.add(path)
        elif got == "remote":
            remote_contents.add(path)
        elif got == "remote_hash":
            remote_hashes.add(path)
        elif isinstance(got, Op):
            ops[path] = got
    need = None
    if local_hashes or remote_contents or remote_hashes:
        need = Need(frozenset(local_hashes), frozenset(remote_contents), frozenset(remote_hashes))
    return ops, need


def _replaces_dir(op: Op) -> bool:
    """A type change's delete that empties a directory (else it removes a file)."""
    node = op.remote if isinstance(op, DeleteRemote) else getattr(op, "local", None)
    return node is not None and node.is_dir


def _order(
    moves: list[Op], ops: dict[str, Op], type_deletes: Sequence[Op] = ()
) -> tuple[tuple[Op, ...], tuple[int, ...]]:
    """Execution order and phase boundaries (see the module docstring)."""
    structure: list[tuple[tuple[int, int, int, str], Op]] = []
    for seq, op in enumerate(moves):
        assert isinstance(op, MOVES)
        structure.append(((_depth(op.dest), 0, seq, op.dest), op))
    for op in type_deletes:
        if not _replaces_dir(op):
            structure.append(((_depth(op.path), -1, 0, op.path), op))
    for path, op in ops.items():
        if isinstance(op, MKDIRS):
            structure.append(((_depth(path), 1, 0, path), op))
    structure.sort(key=lambda item: item[0])
    ordered: list[Op] = []
    ends: list[int] = []
    last_key: tuple[int, int] | None = None
    for key, op in structure:
        group = (key[0], 1) if key[1] == 1 else None
        if ordered and (group is None or group != last_key):
            ends.append(len(ordered))
        ordered.append(op)
        last_key = group
    if ordered:
        ends.append(len(ordered))
    transfers = [op for p, op in sorted(ops.items()) if not isinstance(op, MKDIRS + DELETES)]
    deletes = sorted(
        (op for op in ops.values() if isinstance(op, DELETES)),
        key=lambda op: (-_depth(op.path), op.path, type(op).__name__),
    )
    emptied = sorted((op for op in type_deletes if _replaces_dir(op)), key=lambda op: op.path)
    for group_ops in (emptied, transfers, deletes):
        if group_ops:
            ordered.extend(group_ops)
            ends.append(len(ordered))
    return tuple(ordered), tuple(ends)


def _mark(ops: dict[str, Op], created: set[str], reason: Reason) -> None:
    """Copies of entries that stepped aside carry the reason that moved them."""
    for path, op in list(ops.items()):
        if isinstance(op, COPIES) and any(is_within(path, c) for c in created):
            ops[path] = replace(op, reason=reason)


def plan(local: LocalTree, remote: RemoteTree, base: BaseTree, policy: Policy) -> Plan:
    """Decide every path of the three trees; reads and writes nothing."""
    gone = exclusion_phases(policy.excluded, local, base)
    if policy.excluded:
        policy = replace(
            policy,
            local_unknown=policy.local_unknown | policy.excluded,
            remote_unknown=policy.remote_unknown | policy.excluded,
        )
    names = Names(policy, local, remote, base, policy.local_unknown, policy.remote_unknown)
    twins: list[Op] = []
    twice: set[str] = set()
    if policy.local_twins:
        renames, twice = rename_twins(local, base, policy, names)
        twins = list(renames)
        policy = replace(policy, local_unknown=policy.local_unknown | twice)
    unknown = policy.local_unknown | policy.remote_unknown
    trees = Trees(_known(local, unknown), _known(remote, unknown), _known(base, unknown))
    seen = Trees(dict(trees.local), dict(trees.remote), dict(trees.base))  # moves edit trees
    moves: list[Op] = []
    if not policy.is_merge:  # a merge deletes nothing, and a move deletes the old name
        on_disk = [*local, *(op.dest for op in twins if isinstance(op, MoveLocal))]
        moves = [*find_local_moves(trees, policy), *find_remote_moves(trees, policy, on_disk)]
    kinds = resolve_type_changes(trees, policy, names)
    held = [p for p in local if any(is_within(p, t) for t in twice)] if policy.folds_case else []
    clashes, trees.remote, clashed = resolve_clashes(trees.local, trees.remote, policy, names, held)
    ops, need = _decide_all(trees, seen, policy, names)
    # A type change that the hash of an upload would decide: ask for it, if the server
    # holds that file at that path now (not only after a planned move).
    asked = {p for p, node in kinds.unsure.items() if seen.remote.get(p) is node}
    if asked:
        need = need or Need()
        need = replace(need, remote_hashes=need.remote_hashes | asked)
    _mark(ops, kinds.created, Reason.TYPE_CHANGED)
    _mark(ops, clashed, Reason.NAME_CLASH)
    structure = [*twins, *moves, *kinds.renames, *clashes]
    type_deletes: Sequence[Op] = kinds.deletes
    if policy.mode is not Mode.TWO_WAY:  # stage 4b: only what the mode may write
        held = held_names([*structure, *type_deletes], policy)
        structure = keep_allowed(structure, held, policy)
        type_deletes = keep_allowed(type_deletes, held, policy)
        ops = apply_mode(ops, policy, held)
    ops = collapse_deletes(ops, trees.local, trees.remote, policy)
    ops = apply_mode(ops, policy)  # a kept directory is re-created on the side it left
    ordered, ends = _order(structure, ops, type_deletes)
    # The guards count what the type changes delete, which left the trees with them.
    local_view = {**trees.local, **kinds.gone_local} if kinds.gone_local else trees.local
    remote_view = {**trees.remote, **kinds.gone_remote} if kinds.gone_remote else trees.remote
    refusals = guards.check(ordered, local_view, remote_view, trees.base, policy)
    for phase in gone:  # the user's own choice, not a delete the guards count; own phases
        ordered, ends = (*ordered, *phase), (*ends, len(ordered) + len(phase))
    return Plan(ops=ordered, refusals=refusals, need=need, phase_ends=ends)
