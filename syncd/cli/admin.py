"""``syncd admin``: accounts, keys, backups; works with or without a running server.

Every command is one short transaction on the same database the server uses (WAL and a
busy timeout let both processes write), so it is safe while ``syncd serve`` runs.
"""

from __future__ import annotations

from pathlib import Path

import click

from syncd.cli.serve import config_option, database_url, prepare_data_dir


class _Admin:
    def __init__(self, data_dir: Path, url: str | None, check: bool = True) -> None:
        from syncd.server.blobs import on_disk
        from syncd.server.db import open_database

        self.data_dir = prepare_data_dir(data_dir)
        self.db = open_database(database_url(self.data_dir, url), check=check)
        self.blobs = on_disk(self.data_dir / "blobs", is_server=False)


@click.group("admin")
@config_option
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="The server's data directory.",
)
@click.option(
    "--database-url",
    default=None,
    envvar="SYNCD_DATABASE_URL",
    help="The server's database, when not SQLite in the data directory "
    "(postgresql://USER@HOST/DB; env SYNCD_DATABASE_URL, config database_url).",
)
@click.pass_context
def admin(ctx: click.Context, data_dir: Path, database_url: str | None) -> None:
    """Administer a reference server's data directory."""
    from syncd.server.datadir import private

    ctx.with_resource(private())  # the database, backups and blobs it writes stay private
    ctx.obj = ctx.obj or {}
    ctx.obj["admin"] = lambda check=True: _Admin(data_dir, database_url, check)


def _open(ctx: click.Context) -> _Admin:
    return ctx.obj["admin"]()


@admin.command("migrate")
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the database's schema to this version of syncd (safe to run again)."""
    from syncd.server.migrate import upgrade

    state = ctx.obj["admin"](check=False)
    try:
        with state.db.write() as conn:
            before, after = upgrade(conn)
    finally:
        state.db.dispose()
    if before == after:
        click.echo(f"schema is current ({after})")
    else:
        click.echo(f"schema migrated from {before} to {after}")


@admin.command("create-account")
@click.argument("tag")
@click.pass_context
def create_account(ctx: click.Context, tag: str) -> None:
    """Create an account; its API key is printed alone on the last line."""
    from syncd.server import auth

    state = _open(ctx)
    with state.db.write() as conn:
        account_id, key = auth.create_account(conn, tag)
    click.echo(f"created account {account_id} ({tag}); its API key:")
    click.echo(key)


@admin.command("create-key")
@click.argument("tag")
@click.pass_context
def create_key(ctx: click.Context, tag: str) -> None:
    """Create another API key for the account TAG; printed alone on the last line."""
    from syncd.server import auth

    state = _open(ctx)
    with state.db.write() as conn:
        key = auth.create_key(conn, tag)
    click.echo(f"new API key for {tag}:")
    click.echo(key)


@admin.command("backup")
@click.argument("workspace_id")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_context
def backup(ctx: click.Context, workspace_id: str, file: Path) -> None:
    """Write a consistent snapshot of one workspace to FILE."""
    from syncd.errors import UsageError, WorkspaceNotFound
    from syncd.server import backup as backups

    state = _open(ctx)
    try:
        manifest = backups.backup_workspace(state.db, state.blobs, workspace_id, file)
    except WorkspaceNotFound as exc:
        raise UsageError(f"no workspace {workspace_id!r}") from exc
    except OSError as exc:
        raise UsageError(f"cannot write {file}: {exc.strerror or exc}") from exc
    ws = manifest["workspace"]
    click.echo(
        f"backed up {ws['id']} ({ws['name']}) at revision {ws['revision']}: "
        f"{len(manifest['entries'])} entries -> {file}"
    )


@admin.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.pass_context
def restore(ctx: click.Context, file: Path) -> None:
    """Put a backup back under its workspace id; older feed cursors then answer 410."""
    from syncd.server import backup as backups

    state = _open(ctx)
    result = backups.restore(state.db, state.blobs, file, state.data_dir / "uploads")
    click.echo(
        f"restored {result['workspace_id']}: {result['entries']} entries, "
        f"new revision lineage from {result['revision']}"
    )


@admin.command("list-backups")
@click.pass_context
def list_backups(ctx: click.Context) -> None:
    """Every backup written on this data directory, oldest first (tab-separated)."""
    from syncd.server import backup as backups

    state = _open(ctx)
    rows = backups.list_backups(state.db)
    click.echo("time\tworkspace\tname\treason\trevision\tentries\tbytes\tfile")
    for row in rows:
        click.echo(
            f"{row['create_time']}\t{row['workspace_id']}\t{row['name']}\t{row['reason']}\t"
            f"{row['revision']}\t{row['entry_count']}\t{row['size']}\t{row['file']}"
        )
