"""``syncd trash list`` and ``syncd trash restore``: what the local trash holds, and getting it back.

Both only touch the folder and the trash under the state directory, never the server: a
restored file is a local change like any other and goes up on the next sync (or at once
under ``syncd run``). An entry is pruned ``trash_retention_days`` after it was trashed,
or sooner (never within a day) when the trash grows past ``trash_max_size``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from syncd.cli import complete
from syncd.cli.options import common_options, flags_of
from syncd.cli.state_access import find_state, remember_group_options
from syncd.errors import UsageError
from syncd.local.restore import restore_entry
from syncd.local.trash import TrashEntry


def _when(value: str, option: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{option} {value!r} is not a date or time",
            hint="use e.g. 2026-12-03 or 2026-12-03T09:15",
        ) from None
    # the trash names its entries in local time: compare an aware time in local time
    return when.astimezone().replace(tzinfo=None) if when.tzinfo else when


@click.group()
@common_options
@click.pass_context
def trash(ctx: click.Context, config_file: str | None, **kwargs: Any) -> None:
    """List the local trash and restore versions from it."""
    remember_group_options(ctx, config_file, flags_of(**kwargs))


@trash.command("list")
@common_options
@click.option("--since", help="Only entries trashed at or after this date/time (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.pass_context
def list_(
    ctx: click.Context, config_file: str | None, since: str | None, as_json: bool, **kwargs: Any
) -> None:
    """Show each trashed version: original path, when, why, size and when it is pruned."""
    state = find_state(config_file, flags_of(**kwargs), ctx)
    store = state.trash()
    start = _when(since, "--since") if since else None
    keep = timedelta(days=store.retention_days)
    rows = [
        {
            "path": e.rel_path,
            "trashed_at": e.trashed_at.isoformat(timespec="seconds"),
            "reason": e.reason.name.lower(),
            "why": e.reason.value,
            "size": e.size,
            "pruned_after": (e.trashed_at + keep).isoformat(timespec="seconds"),
            "entry": e.entry,
            "location": str(e.path),
        }
        for e in store.list()
        if start is None or e.trashed_at >= start
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("the trash is empty" if start is None else "nothing trashed since then")
        return
    for r in rows:
        click.echo(
            f"{r['trashed_at']}  {r['path']}  ({r['why']}, {r['size']} bytes, "
            f"kept until {r['pruned_after']})"
        )
    cap = store.max_size if store.max_size is not None else "unlimited"
    click.echo(
        f"retention: {store.retention_days} days; size cap {cap} "
        "(over it, the oldest go first, never one younger than a day)"
    )


def _pick(entries: list[TrashEntry], path: str, at: str | None) -> list[TrashEntry]:
    """The files of the newest put (or the one at ``at``) that held ``path``."""
    hits = [e for e in entries if e.rel_path == path or e.rel_path.startswith(path + "/")]
    if not hits:
        raise UsageError(f"nothing in the trash was at {path!r}", hint="see 'syncd trash list'")
    puts: dict[str, list[TrashEntry]] = {}
    for e in hits:
        puts.setdefault(e.entry, []).append(e)
    if at is not None:
        chosen = [
            k
            for k, files in puts.items()
            if k == at or files[0].trashed_at.isoformat(timespec="seconds").startswith(at)
        ]
        if not chosen:
            raise UsageError(
                f"no trashed version of {path!r} at {at!r}", hint="see 'syncd trash list'"
            )
        if len(chosen) > 1:
            raise UsageError(
                f"--at {at!r} matches {len(chosen)} versions of {path!r}",
                hint="give the time to the second, or the entry shown by 'syncd trash list --json'",
            )
        return puts[chosen[0]]
    newest = max(puts, key=lambda k: (puts[k][0].trashed_at, k))
    return puts[newest]


@trash.command()
@common_options
@click.argument("path", shell_complete=complete.trashed)
@click.option("--at", help="The version trashed at this time (a prefix such as 2026-12-03T09:15).")
@click.option("--to", "dest", help="Restore here instead (a path inside the folder).")
@click.pass_context
def restore(
    ctx: click.Context,
    config_file: str | None,
    path: str,
    at: str | None,
    dest: str | None,
    **kwargs: Any,
) -> None:
    """Restore the newest trashed version of PATH; never overwrites anything."""
    state = find_state(config_file, flags_of(**kwargs), ctx)
    rel = path.strip("/")
    target = _inside(state.root, dest) if dest else state.root.joinpath(*rel.split("/"))
    files = _pick(state.trash().list(), rel, at)
    label = f"restored copy {files[0].trashed_at.strftime('%Y-%m-%d %H%M%S')}"
    for item, placed in restore_entry(files, rel, target, label):
        click.echo(f"restored {item.rel_path} -> {placed.relative_to(state.root).as_posix()}")


def _inside(root: Path, dest: str) -> Path:
    """``dest`` (absolute, or relative to the folder as PATH is) when it lies inside it."""
    given = Path(dest).expanduser()
    full = (given if given.is_absolute() else root / given).resolve()
    if not full.is_relative_to(root) or full == root:
        raise UsageError(f"--to {dest!r} is outside the folder {root}", hint="restore inside it")
    return full
