"""``syncd status``: last sync, pending work, conflicts and errors, read from the state database.

It only reads, so it works while ``syncd run`` holds the folder: SQLite in WAL mode lets a
reader in beside the writer, and it never takes the folder's lock. It needs the server
only to resolve a workspace given by name. A conflict is listed while its copy exists in
the folder (the next sync forgets the others); paths skipped by policy (symlinks) are
listed with the reason.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from syncd.cli.options import common_options, flags_of
from syncd.config import load_settings
from syncd.daemon import pause as pause_row
from syncd.daemon.liveness import is_running
from syncd.errors import UsageError
from syncd.local.spelling import exists_on_disk
from syncd.session import db_path_for, require, resolve_workspace
from syncd.state import recent
from syncd.state.store import Store
from syncd.transport.client import Client


def gather(store: Store, root: Path) -> dict[str, Any]:
    """The status as one JSON-ready value (``--json`` prints exactly this)."""
    last = store.meta.last_sync()
    daemon = store.daemon_status.read()
    paused = pause_row.read(store)
    detail = store.meta.get_json("daemon_detail") if daemon is not None else None
    watch = store.meta.get_json("daemon_watch") if daemon is not None else None
    if daemon is not None and daemon.pid is not None and not is_running(daemon.pid):
        state = "stopped (the daemon died without cleaning up)"
    elif daemon is not None:
        state = daemon.state.value
    elif last is None:
        state = "never synced"
    else:
        state = "idle"
    return {
        "last_sync": last.time if last else None,
        "last_result": last.result if last else None,
        "state": state,
        "daemon": daemon.as_dict() if daemon else None,
        "synced_paths": store.base_count(),
        "detail": (detail or {}).get("detail") if isinstance(detail, dict) else detail,
        "pending": [e.path for e in store_pending(store)],
        "dirty": sorted(store.dirty.rows()),
        "conflicts": [
            {"path": c.path, "conflict_path": c.conflict_path}
            for c in store.conflicts.rows()
            if exists_on_disk(root, c.conflict_path)
        ],
        "skipped": [{"path": p, "reason": r} for p, r in sorted(store.meta.skipped().items())],
        "errors": [
            {"path": e.path, "reason": e.reason, "count": e.count} for e in store.item_errors.rows()
        ],
        "cursor": store.meta.cursor(),
        "merge_pending": store.meta.is_merge_pending(),
        "mode": store.meta.get("mode") or "two-way",
        "last_change": recent.last_change(store),
        "recent_changes": recent.recent(store)[:RECENT_SHOWN],
        "paused": None if paused is None else {**paused.as_dict(), "text": paused.describe()},
        "watch": watch,  # None: every folder is watched (or no daemon runs)
    }


def describe_watch(watch: dict[str, Any]) -> str:
    """``1,204 folders scanned every 30 s, not watched (raise fs.inotify...)``."""
    what = (
        "the whole folder"
        if watch.get("is_root_unwatched")
        else (f"{watch['unwatched_folders']:,} folders")
    )
    limit = watch.get("limit") or "fs.inotify.max_user_watches=524288"
    return (
        f"{what} scanned every {watch['scan_interval']:.0f} s, not watched "
        f"(inotify limit reached: sudo sysctl {limit})"
    )


RECENT_SHOWN = 10  # changes listed by status (the state keeps more)


def when(iso: str | None, now: datetime | None = None) -> str:
    """``2026-12-03 10:15:02 (3 s ago)`` in local time, for people."""
    if not iso:
        return "never"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    now = now or datetime.now(UTC)
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        ago = f"{seconds} s ago"
    elif seconds < 3600:
        ago = f"{seconds // 60} min ago"
    elif seconds < 86400:
        ago = f"{seconds // 3600} h ago"
    else:
        ago = f"{seconds // 86400} d ago"
    return f"{moment.astimezone().strftime('%Y-%m-%d %H:%M:%S')} ({ago})"


def _progress(transfer: dict[str, Any]) -> str:
    done, total = transfer.get("done") or 0, transfer.get("total")
    if total:
        return f"{transfer['path']}: {done * 100 // max(1, total)}% of {total} bytes"
    return f"{transfer['path']}: {done} bytes"

    return True


def store_pending(store: Store) -> list[Any]:
    from syncd.state.journal import Journal

    return Journal(store).pending()


@click.command()
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def status(config_file: str | None, as_json: bool, **kwargs: Any) -> None:
    """Show the last sync, pending work, conflicts and failed items."""
    settings = load_settings(flags_of(**kwargs), config_file=config_file)
    require(settings, "server", "workspace", "dir")
    workspace_id = settings.workspace
    db_path = db_path_for(settings, workspace_id)
    if not db_path.exists() and settings.api_key:
        with Client(settings.transport()) as client:
            workspace_id = resolve_workspace(client, settings.workspace)
        db_path = db_path_for(settings, workspace_id)
    if not db_path.exists():
        raise UsageError(f"no state for this folder and workspace yet ({db_path}); run sync first")
    with Store.open(db_path, create=False) as store:
        info = gather(store, Path(settings.dir).expanduser().resolve())
    info["folder"] = str(settings.dir)
    info["workspace"] = workspace_id
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    console = Console()
    table = Table(show_header=False, box=None)
    for key in ("folder", "workspace", "state", "mode"):
        table.add_row(key.replace("_", " "), str(info[key]))
    table.add_row("last sync", when(info["last_sync"]))
    table.add_row("synced paths", str(info["synced_paths"]))
    change = info["last_change"]
    if change:
        counts = ", ".join(f"{k} {v}" for k, v in change["result"].items() if v)
        table.add_row("last change", f"{when(change['time'])}: {counts}")
    if info["detail"]:
        table.add_row("detail", str(info["detail"]))
    if info["paused"] and info["detail"] != info["paused"]["text"]:
        table.add_row("paused", info["paused"]["text"])
    if info["watch"]:
        table.add_row("watching", describe_watch(info["watch"]))
    table.add_row("pending", str(len(info["pending"]) + len(info["dirty"])))
    table.add_row("conflicts", str(len(info["conflicts"])))
    table.add_row("failed", str(len(info["errors"])))
    table.add_row("skipped", str(len(info["skipped"])))
    console.print(table)
    for t in (info["daemon"] or {}).get("transfers") or []:
        console.print(f"transferring: {_progress(t)}")
    for c in info["recent_changes"]:
        target = f" -> {c['dest']}" if c.get("dest") else ""
        console.print(f"{when(c['time'])} {c['what']}: {c['path']}{target}", markup=False)
    for c in info["conflicts"]:
        console.print(f"conflict: {c['path']} -> {c['conflict_path']}")
    for e in info["errors"]:
        console.print(f"failed: {e['path']}: {e['reason']}")
    for k in info["skipped"]:
        console.print(f"skipped: {k['path']}: {k['reason']}")
