"""The operations a Plan is made of: frozen values the worker executes one by one.

1. Every op names its ``path`` and the ``reason`` (the decision-table row) that chose it,
   so a log line ``op=Upload path=a.txt reason=LOCAL_CHANGED`` reads as a trace.
2. Every op that overwrites or deletes carries what the plan saw (``local`` / ``remote``),
   so the worker can refuse when the world moved on: a local file that is no longer what
   the plan saw becomes a conflict, a remote one a 412 and a re-plan.
3. The worker records the base from what it observes after an op, never from the op.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from syncd.planner.trees import BaseNode, LocalNode, RemoteNode


class Reason(StrEnum):
    """The row of the decision table (docs/design.md) or the special case that chose an op."""

    LOCAL_NEW = "LOCAL_NEW"
    LOCAL_CHANGED = "LOCAL_CHANGED"
    REMOTE_NEW = "REMOTE_NEW"
    REMOTE_CHANGED = "REMOTE_CHANGED"
    LOCAL_DELETED = "LOCAL_DELETED"
    REMOTE_DELETED = "REMOTE_DELETED"
    EDIT_BEATS_DELETE = "EDIT_BEATS_DELETE"
    BOTH_EQUAL = "BOTH_EQUAL"
    BOTH_CHANGED = "BOTH_CHANGED"
    BOTH_DELETED = "BOTH_DELETED"
    UPLOAD_CONFIRMED = "UPLOAD_CONFIRMED"
    REMOTE_ECHO = "REMOTE_ECHO"
    LOCAL_MOVED = "LOCAL_MOVED"
    REMOTE_MOVED = "REMOTE_MOVED"
    TYPE_CHANGED = "TYPE_CHANGED"
    MERGE_LOCAL_ONLY = "MERGE_LOCAL_ONLY"
    MERGE_REMOTE_ONLY = "MERGE_REMOTE_ONLY"
    MERGE_DIFFERENT = "MERGE_DIFFERENT"
    NAME_CLASH = "NAME_CLASH"
    UNICODE_TWIN = "UNICODE_TWIN"
    UNCHANGED = "UNCHANGED"
    EXCLUDED = "EXCLUDED"


@dataclass(frozen=True, slots=True)
class Op:
    path: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class Upload(Op):
    """Send the local file at ``path``; conditional on ``remote`` (None: must not exist)."""

    local: LocalNode | None = None
    remote: RemoteNode | None = None


@dataclass(frozen=True, slots=True)
class Download(Op):
    """Fetch ``remote`` to ``path``; the local file must still be ``local`` (None: absent)."""

    remote: RemoteNode | None = None
    local: LocalNode | None = None


@dataclass(frozen=True, slots=True)
class MkdirRemote(Op):
    pass


@dataclass(frozen=True, slots=True)
class MkdirLocal(Op):
    pass


@dataclass(frozen=True, slots=True)
class MoveRemote(Op):
    """Move ``path`` to ``dest`` on the server (one request, also for a directory)."""

    dest: str = ""
    remote: RemoteNode | None = None


@dataclass(frozen=True, slots=True)
class MoveLocal(Op):
    """Rename ``path`` to ``dest`` on disk (one rename, also for a directory).

    With reason ``UNICODE_TWIN`` ``local`` is a second spelling of ``path`` on disk (its
    ``disk_name`` says which); the base row of ``path`` describes the other spelling and
    stays where it is.
    """

    dest: str = ""
    local: LocalNode | None = None


@dataclass(frozen=True, slots=True)
class DeleteRemote(Op):
    """Delete ``path`` on the server, conditional on ``remote``; a directory only when empty
    of anything the base does not know (the planner emits per-file deletes otherwise)."""

    remote: RemoteNode | None = None


@dataclass(frozen=True, slots=True)
class TrashLocal(Op):
    """Move the local ``path`` into the trash, only if it is still ``local``."""

    local: LocalNode | None = None


@dataclass(frozen=True, slots=True)
class KeepBoth(Op):
    """Conflict: rename the local version to ``conflict_path`` (then upload it as a new
    file), and download ``remote`` to ``path``. Nothing is lost on either side."""

    conflict_path: str = ""
    local: LocalNode | None = None
    remote: RemoteNode | None = None
    upload_copy: bool = True  # False in download-only: the conflict copy stays local


@dataclass(frozen=True, slots=True)
class UploadCopy(Op):
    """Upload-only conflict: send the local file at ``path`` to the new name ``dest`` on the
    server (which must not exist); the local file and the remote one at ``path`` stay. The
    base at ``path`` then holds the local file and no server facts, so the remote version
    counts as a remote change: upload-only leaves it, a later two-way pass downloads it
    (nothing lost: the local one goes to the trash and is on the server under ``dest``)."""

    dest: str = ""
    local: LocalNode | None = None
    remote: RemoteNode | None = None


@dataclass(frozen=True, slots=True)
class RecordBase(Op):
    """Both sides already agree at ``path``: store it as the base, no transfer."""

    local: LocalNode | None = None
    remote: RemoteNode | None = None


@dataclass(frozen=True, slots=True)
class ForgetBase(Op):
    """Both sides lack ``path``: drop its base row."""


class RefusalKind(StrEnum):
    """Which guard refused; each kind is one ``SafetyStop`` class (``errors.REFUSALS``)."""

    MASS_DELETE = "mass_delete"
    ROOT_VANISHED = "root_vanished"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A guard's refusal: the reconciler raises its kind's ``SafetyStop`` before any op runs."""

    kind: RefusalKind
    message: str
    paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Need:
    """Facts the planner needs before it can decide; the reconciler gathers them.

    ``local_hashes``: local paths to hash. ``remote_contents``: remote paths whose
    content must be fetched and compared (base-only server, no hashes).
    ``remote_hashes``: remote paths whose content must be fetched and hashed, the answer
    going to ``Policy.remote_hashes`` (a base-only server's file that may be our upload).
    """

    local_hashes: frozenset[str] = frozenset()
    remote_contents: frozenset[str] = frozenset()
    remote_hashes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Plan:
    """``ops`` in execution order; ``phase_ends`` cuts them into phases (see plan.py).

    ``phase_ends[i]`` is the index one past the last op of phase ``i``; the ops of one phase
    touch disjoint paths and may run in parallel. Empty ``phase_ends``: run one by one.
    """

    ops: tuple[Op, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    need: Need | None = None
    phase_ends: tuple[int, ...] = ()

    @property
    def is_refused(self) -> bool:
        return bool(self.refusals)

    @property
    def phases(self) -> tuple[tuple[Op, ...], ...]:
        """The ops grouped into phases: every op of a phase may run at the same time."""
        if not self.phase_ends:
            return tuple((op,) for op in self.ops)
        starts = (0, *self.phase_ends[:-1])
        return tuple(self.ops[a:b] for a, b in zip(starts, self.phase_ends, strict=True))


class Mode(StrEnum):
    """Which sides a sync may write (``--mode``)."""

    TWO_WAY = "two-way"
    UPLOAD_ONLY = "upload-only"  # never writes the local folder
    DOWNLOAD_ONLY = "download-only"  # never writes the server


# The mass-delete threshold when none is set (CLI.md): refuse more than both.
MASS_DELETE_COUNT = 20
MASS_DELETE_RATIO = 0.5


@dataclass(frozen=True, slots=True)
class Policy:
    """Everything the planner may know besides the trees.

    ``is_merge``: first sync or reset after revision_obsoleted; nothing may be deleted.
    ``folds_case`` / ``folds_unicode``: the local file system treats names that differ
    only in case / normalisation as one name. ``now``: the time for conflict names, as
    ``YYYY-MM-DD HHMMSS``; ``host``: this machine's name for conflict names.
    ``max_delete_count`` / ``max_delete_ratio``: deletes on either side above both is a
    refusal unless ``allow_mass_delete``. ``root_marker_ok``: False when the local folder's
    identity marker is gone while the base says it held files.
    ``local_unknown`` / ``remote_unknown``: paths (with their subtrees) that could not be
    read this cycle or are ignored; the planner leaves them alone and never deletes a
    directory that holds one.
    ``local_files`` / ``remote_files``: how many files each side holds in all, when the
    trees are only a part of it (a scoped sync of the daemon); None: count the trees.
    ``remote_hashes``: path -> hash of the remote bytes, fetched for a ``Need``.
    ``mode``: which sides may be written (modes.py); ``propagate_deletes``: in upload-only,
    a local delete deletes the remote file too (else the remote one stays).
    ``local_twins``: other spellings on disk of names in the local tree (NFC and NFD of one
    name in one folder), each a node at the shared key with its own ``disk_name``.
    ``excluded``: paths this device does not sync (selective sync): unknown on both sides,
    and a local copy synced before goes to the trash (exclude.py).
    """

    is_merge: bool = False
    folds_case: bool = False
    folds_unicode: bool = False
    now: str = "1970-01-01 000000"
    host: str = "host"
    max_delete_count: int = MASS_DELETE_COUNT
    max_delete_ratio: float = MASS_DELETE_RATIO
    allow_mass_delete: bool = False
    root_marker_ok: bool = True
    equal_contents: frozenset[str] = field(default_factory=frozenset)
    different_contents: frozenset[str] = field(default_factory=frozenset)
    local_unknown: frozenset[str] = field(default_factory=frozenset)
    remote_unknown: frozenset[str] = field(default_factory=frozenset)
    local_files: int | None = None
    remote_files: int | None = None
    remote_hashes: Mapping[str, str] = field(default_factory=dict)
    local_twins: tuple[LocalNode, ...] = ()
    mode: Mode = Mode.TWO_WAY
    propagate_deletes: bool = False
    excluded: frozenset[str] = field(default_factory=frozenset)


def describe(op: Op) -> str:
    """One line per op, the same words in the log, in --dry-run and in tests:
    ``op=MoveRemote path=a dest=b reason=LOCAL_MOVED``."""
    extra = ""
    if isinstance(op, MoveLocal | MoveRemote | UploadCopy):
        extra = f" dest={op.dest}"
    elif isinstance(op, KeepBoth):
        extra = f" conflict_copy={op.conflict_path}"
    return f"op={type(op).__name__} path={op.path}{extra} reason={op.reason}"


__all__ = [
    "BaseNode",
    "DeleteRemote",
    "Download",
    "ForgetBase",
    "KeepBoth",
    "LocalNode",
    "MkdirLocal",
    "MkdirRemote",
    "Mode",
    "MoveLocal",
    "MoveRemote",
    "Need",
    "Op",
    "Plan",
    "Policy",
    "Reason",
    "RecordBase",
    "Refusal",
    "RefusalKind",
    "RemoteNode",
    "TrashLocal",
    "Upload",
    "UploadCopy",
    "describe",
]
