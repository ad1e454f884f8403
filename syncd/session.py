"""Build the engine for one (server, workspace, folder) from Settings: the wiring, once.

Nothing here decides anything: it opens the client, resolves the workspace, opens the
state database, wraps them in the parts the ``Engine`` is handed (``DiskSource`` for the
folder, ``ServerSource`` for the feed or listing, ``WorkerExecutor`` around the worker)
and hands them over. ``sync``, ``run`` and ``status`` share it; the daemon too.
A dry run (``settings.dry_run``) gets a private temporary copy of the state database and a
file-system probe that writes nothing, so it cannot change the state or the folder.
Everything that can be wrong with the settings and the folder is found before the state
database is created, so a run refused for bad usage leaves no state behind.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from syncd.config import Settings
from syncd.daemon.lock import folder_lock
from syncd.engine_parts import RemoteView
from syncd.errors import ItemError, UsageError, WorkspaceNotFound
from syncd.local.downloads import Downloads
from syncd.local.fsprobe import FsTraits, probe, probe_read_only
from syncd.local.hashing import hash_file
from syncd.local.ignore import Ignore
from syncd.local.remote_ignore import ignored_remote
from syncd.local.scan import ScanResult, scan
from syncd.local.space import SpaceGuard
from syncd.local.trash import Trash
from syncd.local.write import remove_temp_files
from syncd.paths import is_within_any
from syncd.planner import ops
from syncd.planner.trees import LocalNode, RemoteNode
from syncd.reconciler import Engine
from syncd.remote.feed import follow_feed
from syncd.remote.listing import list_remote
from syncd.remote.own_writes import OwnWrites, fast_forward, feed_confirms
from syncd.state.journal import Journal
from syncd.state.paths import state_db_path
from syncd.state.store import Store
from syncd.transport.client import Client
from syncd.transport.progress import SyncDisplay
from syncd.worker.outcome import Outcome
from syncd.worker.phases import DEFAULT_THRESHOLD

log = logging.getLogger("syncd.reconciler")


class DiskSource:
    """The folder through ``local.scan``, with the state's hash cache (``LocalSource``)."""

    def __init__(self, root: Path, store: Store, ignore: Ignore, *, follow_links: bool) -> None:
        self.root = root
        self.store = store
        self.ignore = ignore
        self.follow_links = follow_links

    def scan(self, scope: set[str] | None) -> ScanResult:
        return scan(
            self.root,
            ignore=self.ignore,
            cache=self.store.hashes.view(scope),
            only=scope,
            follow_links=self.follow_links,
        )

    def walk(self) -> ScanResult:
        return scan(
            self.root,
            ignore=self.ignore,
            cache=None,
            hash_files=False,
            follow_links=self.follow_links,
            sink=self.store.scan_rows.update,  # the differences from the last walk
        )

    def hash(self, node: LocalNode) -> str:
        digest, _ = hash_file(self.root / (node.disk_name or node.path))
        return digest

    def ignored_remote(self, entries: Iterable[tuple[str, bool]]) -> set[str]:
        return ignored_remote(self.root, self.ignore, entries)

    def tidy(self, scanned: ScanResult) -> None:
        if scanned.temp_files:
            removed = remove_temp_files(scanned.temp_files)
            log.info("event=temp_cleanup removed=%d", len(removed))
        if scanned.new_hashes:
            log.debug("event=hashed files=%d", len(scanned.new_hashes))  # the cache missed these
            self.store.hashes.put(scanned.new_hashes)


class ServerSource:
    """The workspace through the change feed when the server has one, else a listing
    (``RemoteSource``).

    With a feed the tree is read from the mirror under the scope alone, and the whole
    side's files are counted there. A listing is the whole tree by nature: it is cut to
    the scope here, and its files are counted while it is at hand.
    """

    def __init__(
        self, client: Client, store: Store, workspace_id: str, *, feed_wait: float = 0.0
    ) -> None:
        self.client = client
        self.store = store
        self.workspace_id = workspace_id
        self.feed_wait = feed_wait
        self._listed_files: int | None = None

    def tree(self, scope: set[str] | None) -> RemoteView:
        if self.client.capabilities.changes:
            result = follow_feed(
                self.client, self.store, self.workspace_id, wait=self.feed_wait, scope=scope
            )
            return RemoteView(
                result.tree, result.unknown, result.rejected, result.changed, result.was_reset
            )
        listing = list_remote(self.client, self.workspace_id)
        tree = listing.tree
        self._listed_files = sum(1 for r in tree.values() if not r.is_dir)
        if scope is not None:
            tree = {p: n for p, n in tree.items() if is_within_any(p, scope)}
        return RemoteView(tree, listing.unknown, listing.rejected)

    def files(self) -> int:
        if self._listed_files is not None and not self.client.capabilities.changes:
            return self._listed_files
        return self.store.remote.files()

    def has_mirror(self) -> bool:
        return bool(self.client.capabilities.changes)

    def content_hash(self, path: str, size: int | None) -> str:
        return self.client.files.download(self.workspace_id, path, None, expected_size=size).hash


class WorkerExecutor:
    """Runs a plan through a ``Worker`` built for it (``Executor``), after telling the
    progress display how many files and bytes the plan will transfer. With ``own_writes``
    (the server's answers to this client's writes), the feed's mirror then moves past the
    revisions they made, so the next read of the feed does not bring them back."""

    def __init__(
        self,
        client: Client,
        store: Store,
        workspace_id: str,
        root: Path,
        trash: Trash,
        *,
        journal: Journal | None = None,
        downloads: Downloads | None = None,
        progress: SyncDisplay | None = None,
        transfers: int = 4,
        batch_threshold: int = DEFAULT_THRESHOLD,
        space: SpaceGuard | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        own_writes: OwnWrites | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.workspace_id = workspace_id
        self.root = root
        self.trash = trash
        self.journal = journal
        self.downloads = downloads
        self.progress = progress
        self.transfers = transfers
        self.batch_threshold = batch_threshold  # smaller files go in batches (0: never)
        self.space = space or SpaceGuard()  # min_free_space; the daemon's reload replaces it
        self.on_outcome = on_outcome
        self.own_writes = own_writes

    def run(
        self,
        plan: ops.Plan,
        local: Mapping[str, LocalNode],
        remote: Mapping[str, RemoteNode],
        *,
        links: frozenset[str] = frozenset(),
    ) -> list[Outcome]:
        # The worker (transfers, batches and their codecs) is loaded for a plan with work,
        # so a no-op sync does not pay for importing it.
        from syncd.worker.ops import OpContext
        from syncd.worker.phases import Batching
        from syncd.worker.queue import Worker

        self._announce(plan.ops)
        caps = self.client.capabilities
        ctx = OpContext(
            client=self.client,
            workspace_id=self.workspace_id,
            root=self.root,
            trash=self.trash,
            progress=self.progress,
            is_conditional=bool(caps.conditional),
            local_tree=local,
            remote_tree=remote,
            downloads=self.downloads,
            batching=Batching.for_server(caps, self.batch_threshold, self.transfers),
            links=links,
            space=self.space,
        )
        worker = Worker(
            ctx, self.store, self.journal, transfers=self.transfers, on_outcome=self.on_outcome
        )
        try:
            outcomes = worker.execute(plan)
        except BaseException:  # the answers are facts however the run ended; no more requests
            if self.own_writes is not None:
                fast_forward(self.store, self.own_writes)
            raise
        if self.own_writes is not None:
            confirm = feed_confirms(self.client, self.workspace_id)
            fast_forward(self.store, self.own_writes, confirm)
        return outcomes

    def _announce(self, plan_ops: tuple[ops.Op, ...]) -> None:
        """A plan that only adopts the server's echoes of our writes is no work to show."""
        if self.progress is None or all(_is_echo(op) for op in plan_ops):
            return
        files = nbytes = 0
        for op in plan_ops:
            if isinstance(op, ops.Upload) and op.local is not None:
                files, nbytes = files + 1, nbytes + (op.local.size or 0)
            elif isinstance(op, ops.Download | ops.KeepBoth) and op.remote is not None:
                files, nbytes = files + 1, nbytes + (op.remote.size or 0)
        self.progress.set_totals(files, nbytes)


def _is_echo(op: ops.Op) -> bool:
    return isinstance(op, ops.RecordBase) and op.reason is ops.Reason.REMOTE_ECHO


@dataclass
class Session:
    client: Client
    store: Store
    engine: Engine
    workspace_id: str
    db_path: Path


def require(settings: Settings, *names: str) -> None:
    """One clear line for each option a client command cannot do without."""
    missing = [n for n in names if not getattr(settings, n, None)]
    if missing:
        flags = ", ".join(
            "--api-key-file (or SYNCD_API_KEY)" if n == "api_key" else "--" + n.replace("_", "-")
            for n in missing
        )
        raise UsageError(f"missing {flags} (give it on the command line or in the config file)")


def resolve_workspace(client: Client, workspace: str) -> str:
    """An id is used as it is; otherwise it is looked up by name (one match only)."""
    workspaces = client.workspaces.list()
    ids = {w.id for w in workspaces}
    if workspace in ids:
        return workspace
    named = [w for w in workspaces if w.name == workspace]
    if len(named) == 1:
        return named[0].id
    if len(named) > 1:
        raise UsageError(f"workspace name {workspace!r} is ambiguous; give its id")
    raise WorkspaceNotFound(f"workspace {workspace!r} not found")


def db_path_for(settings: Settings, workspace_id: str) -> Path:
    root = Path(settings.dir).expanduser().resolve()
    return state_db_path(Path(settings.state_dir).expanduser(), settings.server, workspace_id, root)


def check_folder(root: Path, *, dry_run: bool = False) -> FsTraits | None:
    """What the folder's file system folds (None when the folder does not exist), or a
    ``UsageError`` naming the folder when syncd could not work in it. A dry run asks
    without creating anything (``probe_read_only``)."""
    try:
        if not root.exists():
            return None
    except OSError as exc:  # a parent folder this user may not enter
        raise UsageError(f"cannot reach the folder {root}: {exc.strerror}") from exc
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", hint="--dir names the folder to sync")
    if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
        raise UsageError(
            f"the folder {root} is not readable and writable by this user",
            hint="check its permissions, or give another --dir",
        )
    if dry_run:
        return probe_read_only(root)
    try:
        return probe(root)  # creates and removes a file of ours: proves the folder writable
    except ItemError as exc:
        reason = getattr(exc.__cause__, "strerror", None) or str(exc)
        raise UsageError(f"cannot write in the folder {root}: {reason}", hint=exc.hint) from exc


def check_state_dir(state_dir: Path) -> None:
    """A ``UsageError`` naming the state directory when its database could not be made
    there (checked before anything is created: it, or its nearest existing parent, must
    be a folder this user may write in)."""
    existing = state_dir
    hint = "check its permissions, or give another --state-dir"
    try:
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
    except OSError as exc:  # a parent folder this user may not enter
        raise UsageError(f"cannot reach the state directory {state_dir}: {exc.strerror}") from exc
    if not existing.is_dir():
        raise UsageError(f"the state directory {state_dir}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        if existing == state_dir:
            raise UsageError(f"cannot write in the state directory {state_dir}", hint=hint)
        raise UsageError(
            f"cannot create the state directory {state_dir}: {existing} is not writable",
            hint=hint,
        )


def _log_throttle(client: Client) -> None:
    """One line on what the bandwidth limit cost this run, when one was set: the user
    sees why a sync took long, and a test sees the limit at work without timing it."""
    throttle = client.connection.throttle
    if throttle.rate is not None or throttle.waited > 0:
        log.info(
            "event=bandwidth_limit rate=%s passed=%d waited=%.2fs span=%.2fs",
            throttle.rate if throttle.rate is not None else "unlimited",
            throttle.passed,
            throttle.waited,
            throttle.span,
        )


@contextmanager
def open_session(
    settings: Settings,
    *,
    progress: SyncDisplay | None = None,
    command: str = "syncd",
    beside_daemon: bool = False,
) -> Iterator[Session]:
    """The parts for one sync, with the folder's lock held for ``command`` before the
    state database is opened (a dry run only checks the lock: ``daemon.lock``).

    ``beside_daemon`` (a dry run only, for ``syncd explain``) does not even check the
    lock: it plans from a copy of the state as it is now, also while a daemon runs.
    """
    require(settings, "server", "workspace", "dir", "api_key")
    if beside_daemon and not settings.dry_run:
        raise ValueError("only a dry run may plan beside a running daemon")
    root = Path(settings.dir).expanduser().resolve()
    state_dir = Path(settings.state_dir).expanduser().resolve()
    if state_dir == root or root in state_dir.parents:
        raise UsageError(f"the state directory {state_dir} must not be inside the folder {root}")
    dry_run = bool(settings.dry_run)
    traits = check_folder(root, dry_run=dry_run)
    check_state_dir(state_dir)
    with Client(settings.transport()) as client:
        workspace_id = resolve_workspace(client, settings.workspace)
        db_path = db_path_for(settings, workspace_id)
        if traits is None and not db_path.exists():
            # A folder never synced is a typo: refused before any state exists. A synced
            # folder that is gone is the engine's to refuse (exit 5), from its state.
            raise UsageError(f"local folder {root} does not exist", hint="create it first")
        with (
            nullcontext() if beside_daemon else folder_lock(db_path, command, dry_run=dry_run),
            Store.open_copy(db_path) if dry_run else Store.open(db_path) as store,
        ):
            store.meta.bind(settings.server, workspace_id, root)
            client.uploads.store = store.upload_sessions  # resumable uploads survive a restart
            own_writes = OwnWrites()  # what our writes changed, told by the server's answers
            client.batch.on_written = own_writes.note_batch
            client.uploads.on_committed = own_writes.note_commit
            trash = Trash(
                db_path.parent / (db_path.stem + ".trash"),
                retention_days=settings.trash_retention_days,
                max_size=settings.trash_max_size,
            )
            downloads = Downloads(db_path.parent / (db_path.stem + ".downloads"))
            journal = Journal(store)
            ignore = Ignore.load(root) if root.is_dir() else Ignore.from_lines([])
            engine = Engine(
                local=DiskSource(root, store, ignore, follow_links=settings.symlinks == "follow"),
                remote=ServerSource(client, store, workspace_id),
                store=store,
                executor=WorkerExecutor(
                    client,
                    store,
                    workspace_id,
                    root,
                    trash,
                    journal=journal,
                    downloads=downloads,
                    progress=progress,
                    transfers=settings.transfers,
                    batch_threshold=settings.batch_threshold,
                    space=SpaceGuard(settings.min_free_space),
                    own_writes=own_writes,
                ),
                root=root,
                trash=trash,
                journal=journal,
                downloads=downloads,
                delete_limit=settings.max_delete,
                allow_mass_delete=bool(settings.allow_mass_delete),
                slice_paths=settings.slice_paths,
                mode=ops.Mode(settings.mode),
                propagate_deletes=bool(settings.propagate_deletes),
                folds_case=bool(traits and traits.folds_case),
                exclude=settings.exclude,
                folds_unicode=bool(traits and traits.folds_unicode),
            )
            try:
                yield Session(client, store, engine, workspace_id, db_path)
            finally:  # also when a stop or an error ends the run: the cost is still told
                _log_throttle(client)
