"""Find the state database (and its trash) of a folder as ``status`` does, for read-side commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncd.config import Settings, load_settings
from syncd.errors import UsageError
from syncd.local.trash import Trash
from syncd.session import db_path_for, require, resolve_workspace
from syncd.transport.client import Client


@dataclass(frozen=True, slots=True)
class FolderState:
    """Where one folder's state lives: its database, its trash and the folder itself."""

    settings: Settings
    db_path: Path
    root: Path

    def trash(self) -> Trash:
        return Trash(
            self.db_path.parent / (self.db_path.stem + ".trash"),
            retention_days=self.settings.trash_retention_days,
            max_size=self.settings.trash_max_size,
        )


def remember_group_options(ctx: Any, config_file: str | None, flags: dict[str, Any]) -> None:
    """Keep the common options given before a subcommand (``syncd trash --dir D list``)."""
    ctx.ensure_object(dict)
    ctx.obj["common"] = (config_file, flags)


def find_state(
    config_file: str | None, flags: dict[str, Any], ctx: Any | None = None
) -> FolderState:
    """The folder's state from the common options or the config; exit 2 when there is none.

    Options given to the group (``ctx``) count too; the subcommand's own win.
    """
    if ctx is not None and isinstance(ctx.obj, dict) and "common" in ctx.obj:
        group_config, group_flags = ctx.obj["common"]
        config_file = config_file or group_config
        flags = {**group_flags, **flags}
    settings = load_settings(flags, config_file=config_file)
    return FolderState(settings, state_db(settings), Path(settings.dir).expanduser().resolve())


def state_db(settings: Settings) -> Path:
    """The state database ``status`` reads, for the folder and workspace of ``settings``."""
    require(settings, "server", "workspace", "dir")
    db_path = db_path_for(settings, settings.workspace)
    if not db_path.exists() and settings.api_key:
        with Client(settings.transport()) as client:
            db_path = db_path_for(settings, resolve_workspace(client, settings.workspace))
    if not db_path.exists():
        raise UsageError(f"no state for this folder and workspace yet ({db_path}); run sync first")
    return db_path
