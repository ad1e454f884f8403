"""What the engine reads from and hands work to, as small protocols.

``syncd.session`` builds the real parts (the folder, the server, the state database, the
worker); tests hand the engine in-memory fakes of the same shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from syncd.planner import ops
from syncd.planner.trees import BaseNode, LocalNode, RemoteNode
from syncd.worker.outcome import Outcome

if TYPE_CHECKING:
    from syncd.local.ignore import Ignore
    from syncd.local.scan import ScanResult
    from syncd.state.meta import Meta
    from syncd.state.records import Conflicts, ItemErrors


@dataclass
class RemoteView:
    """The remote side for one round: the tree (under the scope), the paths the server
    contradicted itself about, its bad entries, and what the change feed brought."""

    tree: dict[str, RemoteNode]
    unknown: set[str] = field(default_factory=set)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)
    was_reset: bool = False


class LocalSource(Protocol):
    """The folder as it is now. ``scan`` and ``hash`` only read; ``tidy`` keeps what a
    scan learned (new hashes) and removes our stale temp files, and a dry run never calls
    it."""

    ignore: Ignore

    def scan(self, scope: set[str] | None) -> ScanResult: ...

    def hash(self, node: LocalNode) -> str: ...

    def tidy(self, scanned: ScanResult) -> None: ...

    def walk(self) -> ScanResult:
        """Walk the whole folder (stat only) into ``store.scan_rows`` as it goes; the
        result holds everything but the tree (unknown, ignored, skipped, twins...)."""
        ...

    def ignored_remote(self, entries: Iterable[tuple[str, bool]]) -> set[str]:
        """The server's (path, is_dir) that this folder's ``.syncdignore`` files exclude."""
        ...


class RemoteSource(Protocol):
    """The server's side: its tree under a scope, how many files it holds in all (the
    guards judge a scoped sync's deletes against the whole side) and the hash of the
    bytes at a path, hashed as they stream and never stored (``PreconditionFailed`` when
    the body does not have the listed size)."""

    def tree(self, scope: set[str] | None) -> RemoteView: ...

    def files(self) -> int: ...

    def content_hash(self, path: str, size: int | None) -> str: ...

    def has_mirror(self) -> bool:
        """True when the tree comes from the change feed's mirror in the state database
        (``store.remote``), so a sync in slices can ask it questions in SQL."""
        ...


class BaseStore(Protocol):
    """What the engine reads of the state (the base, the folder's marker, the merge
    flag) and the records it keeps after a sync; ``syncd.state.store.Store`` is one."""

    is_copy: bool
    meta: Meta
    conflicts: Conflicts
    item_errors: ItemErrors

    def base(self, prefixes: Iterable[str] | None = None) -> dict[str, BaseNode]: ...

    def has_base(self) -> bool: ...

    def base_files(self) -> int: ...


class Executor(Protocol):
    """Runs a plan's ops and returns one ``Outcome`` per op; the trees are those the plan
    was made from (an op checks the facts it saw against them), ``links`` the followed
    symbolic links among the local paths. ``transfers`` is how many
    run at once, also for the hashing of remote bytes a ``Need`` asks for."""

    transfers: int

    def run(
        self,
        plan: ops.Plan,
        local: Mapping[str, LocalNode],
        remote: Mapping[str, RemoteNode],
        *,
        links: frozenset[str] = frozenset(),
    ) -> list[Outcome]: ...
