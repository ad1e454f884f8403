"""``syncd run``: the daemon; keep the folder and the workspace in agreement until SIGTERM."""

from __future__ import annotations

from typing import Any

import click

from syncd.cli.options import (
    common_options,
    flags_of,
    local_options,
    safety_options,
    transport_options,
)
from syncd.config import load_settings


@click.command()
@common_options
@safety_options
@local_options
@transport_options
@click.pass_context
def run(ctx: click.Context, config_file: str | None, **kwargs: Any) -> None:
    """Watch the folder and follow the server's change feed until stopped.

    SIGTERM or SIGINT stop it cleanly (exit 0); SIGHUP reloads the config file. One daemon
    per folder: a second one exits 2. Exit 3 when the server refuses the key or the
    workspace. `syncd status` shows what it is doing while it runs.
    """
    from syncd.daemon.loop import Daemon

    flags = flags_of(**kwargs)
    settings = load_settings(flags, config_file=config_file)
    if settings.dry_run:  # a daemon that changes nothing is one planned sync: show it
        from syncd.cli.sync import sync

        ctx.invoke(sync, config_file=config_file, **kwargs)
        return
    daemon = Daemon(settings, flags=flags, config_file=config_file)
    ctx.exit(daemon.run())
