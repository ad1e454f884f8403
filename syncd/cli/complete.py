"""What shell completion offers beyond click's own (commands, options, choices, paths).

1. Every callback is best effort: any error, a missing config or state, a server that
   does not answer within a second, gives no candidates, never a traceback or a wait.
2. Workspace names come from the configured server, with a one-second timeout and no
   retry; paths of ``trash restore``, ``conflicts resolve`` and ``exclude remove`` come
   from the folder's state (its database and trash), read only.
3. The options typed so far count (``syncd trash --dir D restore <TAB>``), as do the
   environment and the config file, as for the command itself.
4. Imports are made inside the callbacks: ``syncd --help`` pays nothing for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

if TYPE_CHECKING:
    from syncd.cli.state_access import FolderState
    from syncd.config import Settings
    from syncd.transport.client import Client

QUICK = 1.0  # seconds a completion may wait for the server, in all


def _given(ctx: click.Context) -> tuple[str | None, dict[str, Any]]:
    """(config file, flags) typed so far on this command line, the innermost winning."""
    from syncd.config import PARSERS

    chain = []
    probe: click.Context | None = ctx
    while probe is not None:
        chain.append(probe)
        probe = probe.parent
    config_file, flags = None, {}
    for level in reversed(chain):
        for key, value in level.params.items():
            if value is None or value is False:
                continue
            if key == "config_file":
                config_file = value
            elif key in PARSERS or key == "api_key_file":
                flags[key] = value
    return config_file, flags


def _settings(ctx: click.Context) -> Settings | None:
    from syncd.config import load_settings
    from syncd.errors import SyncdError

    config_file, flags = _given(ctx)
    try:
        return load_settings(flags, config_file=config_file)
    except SyncdError:
        return None


def _quick_client(settings: Settings) -> Client:
    """A client that gives up within ``QUICK``: a completion never hangs on a server."""
    from dataclasses import replace

    from syncd.transport.client import Client

    knobs = replace(settings.transport(), timeout=QUICK, max_retries=0, deadline=QUICK)
    return Client(knobs)


def _offer(words: Iterable[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(w) for w in sorted(set(words)) if w.startswith(incomplete)]


def _best_effort(find: Callable[[], Iterable[str]], incomplete: str) -> list[CompletionItem]:
    try:
        return _offer(find(), incomplete)
    except Exception:
        return []


def workspaces(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The names (and ids) of the workspaces the configured server lists for the key."""

    def find() -> list[str]:
        settings = _settings(ctx)
        if settings is None or not settings.server or not settings.api_key:
            return []
        with _quick_client(settings) as client:
            listed = client.workspaces.list()
        return [w.name for w in listed if w.name] + [w.id for w in listed]

    return _best_effort(find, incomplete)


def _state(ctx: click.Context) -> FolderState | None:
    """The folder's state, found without the network when the workspace is an id (or
    was resolved before); a name is resolved with the quick client."""
    from syncd.cli.state_access import FolderState
    from syncd.session import db_path_for, resolve_workspace

    settings = _settings(ctx)
    if settings is None or not (settings.server and settings.workspace and settings.dir):
        return None
    db_path = db_path_for(settings, settings.workspace)
    if not db_path.exists() and settings.api_key:
        with _quick_client(settings) as client:
            db_path = db_path_for(settings, resolve_workspace(client, settings.workspace))
    if not db_path.exists():
        return None
    return FolderState(settings, db_path, Path(settings.dir).expanduser().resolve())


def trashed(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The paths the trash holds a version of."""

    def find() -> list[str]:
        state = _state(ctx)
        return [e.rel_path for e in state.trash().list()] if state else []

    return _best_effort(find, incomplete)


def conflicted(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The paths and copies of the conflicts whose copy still exists."""

    def find() -> list[str]:
        from syncd.local.spelling import exists_on_disk
        from syncd.state.store import Store

        state = _state(ctx)
        if state is None:
            return []
        with Store.open(state.db_path, create=False) as store:
            rows = store.conflicts.rows()
        live = [c for c in rows if exists_on_disk(state.root, c.conflict_path)]
        return [c.path for c in live] + [c.conflict_path for c in live]

    return _best_effort(find, incomplete)


def excluded(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The rules ``exclude add`` wrote for this folder (only those can be removed)."""

    def find() -> list[str]:
        from syncd.state import exclude_rules
        from syncd.state.store import Store

        state = _state(ctx)
        if state is None:
            return []
        with Store.open(state.db_path, create=False) as store:
            return list(exclude_rules.read(store))

    return _best_effort(find, incomplete)
