"""``syncd conflicts`` and ``syncd conflicts resolve``: the conflict copies, and settling one.

A conflict leaves the server's version at the path and this device's version beside it
as the conflict copy. Resolving only changes the local folder (the loser goes to the
trash as a conflict loser) and forgets the record; the next sync carries the result up as
ordinary local changes. "mine" is then a local edit of the path, uploaded only if the
server still has the version this device last saw: if it changed again meanwhile, the
next sync makes a new conflict rather than overwrite it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from syncd.cli import complete
from syncd.cli.options import common_options, flags_of
from syncd.cli.state_access import FolderState, find_state, remember_group_options
from syncd.errors import UsageError
from syncd.local.restore import restore_file
from syncd.local.spelling import exists_on_disk, place_on_disk
from syncd.local.trash import Trash, TrashReason, fsync_dir
from syncd.state.store import Store

WINNER = "theirs"  # the path keeps the server's version; the copy holds this device's


def _live(state: FolderState) -> list[dict[str, Any]]:
    with Store.open(state.db_path, create=False) as store:
        rows = store.conflicts.rows()
    return [
        {"path": c.path, "conflict_path": c.conflict_path, "time": c.time, "won": WINNER}
        for c in rows
        if exists_on_disk(state.root, c.conflict_path)
    ]


@click.group(invoke_without_command=True)
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def conflicts(ctx: click.Context, config_file: str | None, as_json: bool, **kwargs: Any) -> None:
    """List the conflicts whose copy still exists (both names, when, which side won)."""
    remember_group_options(ctx, config_file, flags_of(**kwargs))
    if ctx.invoked_subcommand is not None:
        return
    rows = _live(find_state(config_file, flags_of(**kwargs)))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no conflicts")
    for r in rows:
        click.echo(
            f"{r['time']}  {r['path']}  (the server's version; yours is {r['conflict_path']})"
        )


@conflicts.command()
@common_options
@click.argument("path", shell_complete=complete.conflicted)
@click.option(
    "--keep",
    type=click.Choice(["mine", "theirs", "both"]),
    required=True,
    help="mine: the copy's content becomes PATH; theirs: the copy goes; both: keep both files.",
)
@click.pass_context
def resolve(
    ctx: click.Context, config_file: str | None, path: str, keep: str, **kwargs: Any
) -> None:
    """Settle the conflict of PATH (the path or its conflict copy); the loser goes to the trash."""
    state = find_state(config_file, flags_of(**kwargs), ctx)
    rel = path.strip("/")
    live = _live(state)
    hits = [r for r in live if rel in (r["path"], r["conflict_path"])]
    if not hits:
        raise UsageError(f"no conflict at {rel!r}", hint="see 'syncd conflicts'")
    if len(hits) > 1:
        raise UsageError(
            f"{rel!r} has {len(hits)} conflict copies", hint="name the copy to resolve"
        )
    hit = hits[0]
    original = place_on_disk(state.root, hit["path"])
    copy = place_on_disk(state.root, hit["conflict_path"])
    trash = state.trash()
    if keep == "theirs":
        trash.put(copy, hit["conflict_path"], TrashReason.CONFLICT_LOSER)
        fsync_dir(copy.parent)
    elif keep == "mine":
        _keep_mine(trash, original, copy, hit["path"], hit["conflict_path"])
    with Store.open(state.db_path, create=False) as store:
        store.conflicts.clear([hit["conflict_path"]])
    click.echo(f"resolved {hit['path']}: kept {keep}")


def _keep_mine(trash: Trash, original: Path, copy: Path, rel: str, copy_rel: str) -> None:
    """The server's version to the trash, a fresh copy of mine at the path, the copy away.

    A fresh file, not a rename: a rename would look like the copy moving onto the path.
    """
    if os.path.lexists(original):
        trash.put(original, rel, TrashReason.CONFLICT_LOSER)
    placed = restore_file(copy, original, "conflicted copy")
    if placed != original:
        click.echo(f"{rel} was created again meanwhile; your version is at {placed.name}")
        return
    trash.put(copy, copy_rel, TrashReason.CONFLICT_LOSER)
