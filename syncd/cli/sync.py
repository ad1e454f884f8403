"""``syncd sync``: bring the folder and the workspace into agreement once, then exit."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from syncd.cli.options import (
    common_options,
    flags_of,
    local_options,
    safety_options,
    transport_options,
)

if TYPE_CHECKING:
    from syncd.report import Report


def summary(report: Report) -> str:
    return ", ".join(f"{key} {value}" for key, value in report.totals().items())


@click.command()
@common_options
@safety_options
@local_options
@transport_options
@click.pass_context
def sync(ctx: click.Context, config_file: str | None, **kwargs: Any) -> None:
    """Bring the local folder and the workspace into agreement, then exit.

    Exit codes: 0 both sides agree, 1 some items could not be synced (listed on stderr),
    2 bad usage, 3 refused by the server, 4 server unreachable, 5 refused for safety.
    """
    # Imported here, not at the top, so that ``syncd sync --help`` and a bad flag pay for
    # none of the engine, the state database or the progress display.
    from syncd.cli.progress import TransferDisplay
    from syncd.config import load_settings
    from syncd.planner import ops
    from syncd.reconciler import safety_stop
    from syncd.session import open_session

    settings = load_settings(flags_of(**kwargs), config_file=config_file)
    display = TransferDisplay.for_stream(sys.stderr)
    with display, open_session(settings, progress=display, command="syncd sync") as session:
        if not settings.dry_run:
            session.engine.trash.prune()
        # A dry run prints each op as it is planned: in slices, one slice's at a time.
        show = (lambda op: click.echo(ops.describe(op))) if settings.dry_run else None
        report = session.engine.sync(dry_run=bool(settings.dry_run), on_plan=show)
    if settings.dry_run:
        for refusal in report.refusals:
            click.echo(f"refused: {refusal.message}", err=True)
        click.echo(f"dry run: {report.planned_count} operations planned, nothing changed")
        if report.refusals:
            raise safety_stop(report.refusals)
        return
    if report.was_reset:
        click.echo(
            "the server's change history was reset: merged both sides, deleted nothing", err=True
        )
    where = "server copy" if settings.mode == "upload-only" else "local copy"
    for conflict in report.conflicts:
        click.echo(f"conflict: kept both versions, {where} at {conflict}", err=True)
    for path, reason in report.failed:
        click.echo(f"could not sync {path}: {reason}", err=True)
    click.echo(summary(report))
    if report.failed:
        ctx.exit(1)
