"""Build the engine for one (server, workspace, folder) from Settings: the wiring, once.

Nothing here decides anything: it opens the client, resolves the workspace, opens the
state database and hands them to the ``Engine``. ``sync``, ``run`` and ``status`` share it.
A dry run (``settings.dry_run``) gets a private in-memory copy of the state database and a
file-system probe that writes nothing, so it cannot change the state or the folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import UsageError, WorkspaceNotFound
from syncd.local.downloads import Downloads
from syncd.local.fsprobe import probe, probe_read_only
from syncd.local.ignore import Ignore
from syncd.local.trash import Trash
from syncd.reconciler import DeleteLimit, Engine
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


@contextmanager
def open_session(settings: object, *, progress: object | None = None) -> Iterator[Session]:
    require(settings, "server", "workspace", "dir", "api_key")
    root = Path(settings.dir).expanduser().resolve()
    state_dir = Path(settings.state_dir).expanduser().resolve()
    if state_dir == root or root in state_dir.parents:
        raise UsageError(f"the state directory {state_dir} must not be inside the folder {root}")
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is not a directory")
    with Client(settings.transport()) as client:
        workspace_id = resolve_workspace(client, settings.workspace)
        db_path = db_path_for(settings, workspace_id)
        dry_run = bool(getattr(settings, "dry_run", False))
        with Store.open_copy(db_path) if dry_run else Store.open(db_path) as store:
            store.meta.bind(settings.server, workspace_id, root)
            client.uploads.store = store.upload_sessions  # resumable uploads survive a restart
            traits = None
            if root.is_dir():
                traits = probe_read_only(root) if dry_run else probe(root)
            engine = Engine(
                client=client,
                store=store,
                workspace_id=workspace_id,
                root=root,
                trash=Trash(db_path.parent / (db_path.stem + ".trash")),
                downloads=Downloads(db_path.parent / (db_path.stem + ".downloads")),
                ignore=Ignore.load(root) if root.is_dir() else Ignore.from_lines([]),
                journal=Journal(store),
                transfers=settings.transfers,
                batch_threshold=settings.batch_threshold,
                delete_limit=DeleteLimit.parse(settings.max_delete),
                allow_mass_delete=bool(settings.allow_mass_delete),
                folds_case=bool(traits and traits.folds_case),
                folds_unicode=bool(traits and traits.folds_unicode),
                progress=progress,
            )
            yield Session(client, store, engine, workspace_id, db_path)
