"""``syncd exclude add|remove|list``: selective sync, per device.

The rules live in this folder's state database, beside the base, and never reach the
server; the ``exclude`` config key adds more. A running daemon reads them on every pass,
so ``add`` works while it runs (SQLite's WAL lets this writer in beside it).
"""

from __future__ import annotations

import json
from typing import Any

import click

from syncd.cli import complete
from syncd.cli.options import common_options, flags_of
from syncd.cli.state_access import state_db
from syncd.config import Settings, load_settings
from syncd.errors import InvalidPath, UsageError
from syncd.paths import normalize
from syncd.state import exclude_rules
from syncd.state.store import Store


def rule_path(text: str) -> str:
    """A workspace-relative path, as the planner spells it (NFC, no trailing slash)."""
    try:
        return normalize(text.strip().rstrip("/"))
    except InvalidPath as exc:
        raise UsageError(f"bad path {text!r}: {exc}") from exc


@click.group()
@common_options
@click.pass_context
def exclude(ctx: click.Context, **kwargs: Any) -> None:
    """Choose what not to sync on this device (selective sync).

    The common options go before or after the subcommand: `syncd exclude --dir D add P`
    and `syncd exclude add P --dir D` are the same.
    """
    ctx.obj = {k: v for k, v in kwargs.items() if v is not None}


def _settings(kwargs: dict[str, Any]) -> Settings:
    """The group's options, then the subcommand's (the later ones win)."""
    given = {
        **(click.get_current_context().obj or {}),
        **{k: v for k, v in kwargs.items() if v is not None},
    }
    config_file = given.pop("config_file", None)
    return load_settings(flags_of(**given), config_file=config_file)


def _edit(kwargs: dict[str, Any], path: str, *, add: bool) -> None:
    settings = _settings(kwargs)
    rule = rule_path(path)
    with Store.open(state_db(settings), create=False) as store:
        rules = set(exclude_rules.read(store))
        if add:
            rules.add(rule)
        elif rule not in rules:
            raise UsageError(f"{rule} is not excluded here")
        else:
            rules.discard(rule)
        exclude_rules.write(store, sorted(rules))
    if add:
        click.echo(f"excluded {rule}: the next sync moves its local copy to the trash")
    else:
        click.echo(f"included {rule} again: the next sync downloads it")


@exclude.command("add")
@common_options
@click.argument("path")
def add(path: str, **kwargs: Any) -> None:
    """Stop syncing PATH (relative to the folder) on this device; the server keeps it."""
    _edit(kwargs, path, add=True)


@exclude.command("remove")
@common_options
@click.argument("path", shell_complete=complete.excluded)
def remove(path: str, **kwargs: Any) -> None:
    """Sync PATH on this device again: the next sync downloads it."""
    _edit(kwargs, path, add=False)


@exclude.command("list")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def list_(as_json: bool, **kwargs: Any) -> None:
    """List this device's excluded paths (from `exclude add` and the config file)."""
    settings = _settings(kwargs)
    with Store.open(state_db(settings), create=False) as store:
        added = exclude_rules.read(store)
    configured = sorted(getattr(settings, "exclude", None) or ())
    if as_json:
        click.echo(json.dumps({"added": added, "config": configured}, indent=2))
        return
    for rule in added:
        click.echo(rule)
    for rule in configured:
        click.echo(f"{rule} (config file)")
