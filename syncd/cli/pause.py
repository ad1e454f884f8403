"""``syncd pause`` and ``syncd resume``: hold a running daemon's syncing, then let it go.

They write one row of the state database (``syncd.daemon.pause``), which the daemon reads
about once a second; they work whether or not a daemon runs, and a pause outlives a
restart of the daemon until its ``--for`` runs out. ``syncd sync`` is not held by a pause:
it is asked for explicitly, so it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from syncd.cli.options import common_options, flags_of
from syncd.cli.state_access import state_db as state_db_of
from syncd.config import load_settings
from syncd.daemon import pause as pause_row
from syncd.state.store import Store


def state_db(config_file: str | None, kwargs: dict[str, Any]) -> Path:
    """The state database of the folder and workspace the options name (as ``status``)."""
    return state_db_of(load_settings(flags_of(**kwargs), config_file=config_file))


@click.command()
@common_options
@click.option(
    "--for",
    "duration",
    metavar="DURATION",
    help="Resume by itself after this long: 90s, 15m, 1h, 2d (default: until resumed).",
)
def pause(config_file: str | None, duration: str | None, **kwargs: Any) -> None:
    """Pause the daemon's syncing; it keeps recording changes to sync on resume."""
    seconds = None if duration is None else pause_row.parse_duration(duration)
    with Store.open(state_db(config_file, kwargs), create=False) as store:
        found = pause_row.write(store, seconds)
    click.echo(found.describe())


@click.command()
@common_options
def resume(config_file: str | None, **kwargs: Any) -> None:
    """Resume a paused daemon: what changed meanwhile is synced at once."""
    with Store.open(state_db(config_file, kwargs), create=False) as store:
        was = pause_row.clear(store)
    click.echo("resumed" if was else "not paused")
