"""Build the engine for one (server, workspace, folder) from Settings: the wiring, once.

Nothing here decides anything: it opens the client, resolves the workspace, opens the
state database and hands them to the ``Engine``. ``sync``, ``run`` and ``status`` share it.
A dry run (``settings.dry_run``) gets a private in-memory copy of the state database and a
file-system probe that writes nothing, so it cannot change the state or the folder.
Everything that can be wrong with the settings and the folder is found before the state
database is created, so a run refused for bad usage leaves no state behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from syncd.daemon.lock import folder_lock
from syncd.errors import ItemError, UsageError, WorkspaceNotFound
from syncd.local.downloads import Downloads
from syncd.local.fsprobe import FsTraits, probe, probe_read_only
from syncd.local.ignore import Ignore
from syncd.local.trash import Trash
from syncd.reconciler import Engine
from syncd.state.journal import Journal
from syncd.state.paths import state_db_path
from syncd.state.store import Store
from syncd.transport.client import Client


@dataclass
class Session:
    client: Client
    store: Store
    engine: Engine
    workspace_id: str
    db_path: Path


def require(settings: object, *names: str) -> None:
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


def db_path_for(settings: object, workspace_id: str) -> Path:
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


@contextmanager
def open_session(
    settings: object, *, progress: object | None = None, command: str = "syncd"
) -> Iterator[Session]:
    """The parts for one sync, with the folder's lock held for ``command`` before the
    state database is opened (a dry run only checks the lock: ``daemon.lock``)."""
    require(settings, "server", "workspace", "dir", "api_key")
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
            folder_lock(db_path, command, dry_run=dry_run),
            Store.open_copy(db_path) if dry_run else Store.open(db_path) as store,
        ):
            store.meta.bind(settings.server, workspace_id, root)
            client.uploads.store = store.upload_sessions  # resumable uploads survive a restart
            engine = Engine(
                client=client,
                store=store,
                workspace_id=workspace_id,
                root=root,
                trash=Trash(
                    db_path.parent / (db_path.stem + ".trash"),
                    retention_days=settings.trash_retention_days,
                    max_size=settings.trash_max_size,
                ),
                downloads=Downloads(db_path.parent / (db_path.stem + ".downloads")),
                ignore=Ignore.load(root) if root.is_dir() else Ignore.from_lines([]),
                journal=Journal(store),
                transfers=settings.transfers,
                batch_threshold=settings.batch_threshold,
                delete_limit=settings.max_delete,
                allow_mass_delete=bool(settings.allow_mass_delete),
                folds_case=bool(traits and traits.folds_case),
                folds_unicode=bool(traits and traits.folds_unicode),
                follow_links=settings.symlinks == "follow",
                progress=progress,
            )
            yield Session(client, store, engine, workspace_id, db_path)
