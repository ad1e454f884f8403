"""``syncd explain PATH``: what syncd knows and would do for one path; changes nothing.

PATH is relative to the folder, or a file-system path (absolute, or relative to the
current directory when that lies inside the folder) naming something inside it. What
needs no server is printed even when the server cannot be reached; the remote facts and
the plan are then unknown, and the exit code is the server's error's (CLI.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from syncd.cli.options import common_options, flags_of
from syncd.errors import InvalidPath, UsageError
from syncd.paths import normalize

if TYPE_CHECKING:
    from rich.console import Console


def _inside(root: Path, candidate: Path) -> Path | None:
    """``candidate`` (absolute, not resolved: a link inside stays a link) relative to
    ``root``, also when it is spelled through a linked parent folder; None if outside."""
    plain = Path(os.path.normpath(candidate))
    if plain.is_relative_to(root):
        return plain.relative_to(root)
    real = plain.parent.resolve() / plain.name
    return real.relative_to(root) if real.is_relative_to(root) else None


def workspace_path(root: Path, given: str, cwd: Path) -> str:
    """The NFC workspace path PATH names, or a ``UsageError`` (exit 2) when it lies
    outside the folder, is the folder itself or breaks the path rules."""
    if not given.strip():
        raise UsageError("PATH is empty", hint="give a path inside the folder")
    typed = Path(given).expanduser()
    if typed.is_absolute():
        rel = _inside(root, typed)
    else:
        rel = _inside(root, cwd / typed)
        if rel is None and not Path(os.path.normpath(cwd)).is_relative_to(root):
            rel = _inside(root, root / typed)  # from outside the folder: relative to it
    if rel is None:
        raise UsageError(f"{given} is outside the folder {root}", hint="give a path inside it")
    if rel == Path("."):
        raise UsageError(f"{given} is the folder itself", hint="give a path inside it")
    try:
        return normalize(rel.as_posix())
    except InvalidPath as exc:
        raise UsageError(f"bad path {given!r}: {exc}") from exc


Rows = list[tuple[str, str]]


def when(iso: str | None) -> str:
    """A time as ``status`` shows it (imported late: ``--help`` needs none of status)."""
    from syncd.cli.status import when as shown

    return shown(iso)


def _size(n: int | None) -> str | None:
    return None if n is None else f"{n} bytes"


def _join(*parts: str | None) -> str:
    return ", ".join(p for p in parts if p)


def local_rows(local: dict[str, Any]) -> Rows:
    if local["error"]:
        return [("local", f"unknown: {local['error']}")]
    if not local["exists"]:
        return [("local", "absent")]
    kind = local["type"]
    if kind == "symlink":
        kind = f"symbolic link to {local['link_target']}"
    rows = [
        ("local", _join(kind, _size(local["size"]), f"inode {local['inode']}")),
        ("  modified", when(local["mtime"])),
    ]
    if local["cached_hash"]:
        fresh = "current" if local["cached_hash_current"] else "stale: the file changed since"
        rows.append(("  cached hash", f"{local['cached_hash']} ({fresh})"))
    if local["skipped"]:
        rows.append(("  skipped", local["skipped"]))
    return rows


def base_rows(base: dict[str, Any] | None) -> Rows:
    if base is None:
        return [("base", "never synced")]
    if base["type"] is None:
        return [("base", f"not itself, but {base['below']} synced paths below it")]
    rows = [
        (
            "base",
            _join(
                f"synced as a {base['type']}",
                _size(base["size"]),
                f"revision {base['revision']}" if base["revision"] is not None else None,
                f"{base['below']} synced paths below" if base["below"] else None,
            ),
        )
    ]
    if base["hash"]:
        rows.append(("  hash", base["hash"]))
    if base["remote_modified_time"]:
        rows.append(("  server time", base["remote_modified_time"]))
    if base["local_mtime"]:
        rows.append(("  local time", when(base["local_mtime"])))
    return rows


def remote_rows(remote: dict[str, Any], mirror: dict[str, Any] | None) -> Rows:
    if not remote["checked"]:
        rows = [("remote", f"unknown: {remote['error']}" if remote["error"] else "unknown")]
    elif not remote["exists"]:
        below = f"; {remote['below']} entries below it" if remote["below"] else ""
        rows = [("remote", f"absent (fresh listing, {remote['server']} server){below}")]
    else:
        head = _join(
            remote["type"],
            _size(remote["size"]),
            f"revision {remote['revision']}" if remote["revision"] is not None else None,
            f"{remote['below']} entries below" if remote["below"] else None,
        )
        rows = [("remote", f"{head} (fresh listing, {remote['server']} server)")]
        if remote["hash"]:
            rows.append(("  hash", remote["hash"]))
        if remote["modified_time"]:
            rows.append(("  server time", remote["modified_time"]))
    if mirror is not None:
        entry = mirror["entry"]
        seen = f"revision {entry['revision']}" if entry else "absent"
        rows.append(
            ("  state's mirror", f"{seen} (change feed read to revision {mirror['cursor']})")
        )
    return rows


def ignore_text(ignore: dict[str, Any], path: str) -> str:
    if ignore["error"]:
        return f"unknown: {ignore['error']}"
    if not ignore["ignored"]:
        return "not ignored"
    via = f" (through the folder {ignore['matched']})" if ignore["matched"] != path else ""
    if ignore["source"] == "built-in":
        return f"ignored, built in: {ignore['why']}{via}"
    return f"ignored by {ignore['source']} line {ignore['line']}: {ignore['pattern']}{via}"


def exclude_text(exclude: dict[str, Any]) -> str:
    if exclude["excluded"]:
        return f"excluded on this device by {exclude['rule']!r} ({exclude['source']})"
    if exclude["below"]:
        return "not excluded; excluded below it: " + ", ".join(exclude["below"])
    return "not excluded"


def plan_summary(plan: dict[str, Any]) -> str:
    if not plan["checked"]:
        return "unknown: it needs the server's answer"
    if plan["stopped"]:
        return f"refused: {plan['stopped']}"
    if not plan["ops"]:
        return f"nothing to do ({plan['reason']})"
    return f"{plan['action']} ({plan['reason']})" if plan["reason"] else plan["action"]


def plan_rows(plan: dict[str, Any]) -> Rows:
    rows = [("plan", plan_summary(plan))]
    rows += [("  op", op["text"]) for op in plan["ops"]]
    if plan["scope"] == "folder":
        rows.append(("  planned over", "the whole folder (a move or a folder delete may pair it)"))
    rows += [("  refused", r["message"]) for r in plan["refusals"]]
    rows += [("  problem", f"{p['path']}: {p['reason']}") for p in plan["problems"]]
    return rows


def history_rows(info: dict[str, Any]) -> Rows:
    rows: Rows = []
    change = info["last_change"]
    if change:
        by = f" ({change['op']}, {change['reason']})" if change.get("reason") else ""
        rows.append(
            ("last change", f"{when(change['time'])}: {change['what']} {change['path']}{by}")
        )
    else:
        rows.append(("last change", "none recorded"))
    for e in info["pending"]:
        started = when(e["started_time"])
        rows.append(("interrupted", f"{e['op']} {e['path']} ({e['reason']}), started {started}"))
    for e in info["errors"]:
        since = when(e["first_time"])
        rows.append(("failed", f"{e['path']}: {e['reason']} ({e['count']}x since {since})"))
    for c in info["conflicts"]:
        rows.append(("conflict", f"{c['path']}: the local version is at {c['conflict_path']}"))
    if info["dirty_since"]:
        rows.append(("changed", f"seen changing {when(info['dirty_since'])}; not synced yet"))
    daemon = info["daemon"]
    if daemon and daemon["running"]:
        rows.append(("daemon", f"{daemon['state']} (pid {daemon['pid']}): it may act first"))
    return rows


def rows_of(info: dict[str, Any]) -> Rows:
    """The explanation for people, one fact a row, the plan last."""
    cmp = info["compare"]
    mode = info["mode"]["now"]
    if info["mode"]["from"] == "last sync":
        mode += " (as the last sync ran; --mode to plan in another)"
    elif info["mode"]["last_pass"] and info["mode"]["last_pass"] != mode:
        mode += f" (the last sync ran {info['mode']['last_pass']})"
    merge = (
        [
            (
                "merge",
                "the next sync merges both sides (first sync or after a reset): it deletes nothing",
            )
        ]
        if info["merge_pending"]
        else []
    )
    return [
        ("folder", info.get("folder", "")),
        ("workspace", info.get("workspace", "")),
        ("mode", mode),
        ("last sync", when(info["last_sync"])),
        *merge,
        *local_rows(info["local"]),
        *remote_rows(info["remote"], info["mirror"]),
        *base_rows(info["base"]),
        ("local vs base", cmp["local"] or "unknown"),
        ("remote vs base", cmp["remote"] or "unknown"),
        ("ignore", ignore_text(info["ignore"], info["path"])),
        ("exclude", exclude_text(info["exclude"])),
        *history_rows(info),
        *plan_rows(info["plan"]),
    ]


def headline(info: dict[str, Any]) -> str:
    if not info["known"]:
        return f"{info['path']}: syncd knows nothing about it (not here, not on the server, never synced)"
    return f"{info['path']}: {plan_summary(info['plan'])}"


def render(info: dict[str, Any], console: Console) -> None:
    """In the style of ``syncd status``: a table of facts; hashes are never cut short."""
    from rich.table import Table
    from rich.text import Text

    console.print(Text(headline(info)))
    table = Table(show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows_of(info):
        table.add_row(key, Text(str(value)))
    console.print(table)


@click.command()
@common_options
@click.argument("path")
@click.option(
    "--mode",
    type=click.Choice(["two-way", "upload-only", "download-only"]),
    help="Plan in this mode (default: the settings', or the one-way mode the last sync ran).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def explain(config_file: str | None, path: str, as_json: bool, **kwargs: Any) -> None:
    """Show what syncd knows and would do for PATH; changes nothing.

    PATH is relative to the folder, or a path to something inside it. Printed: the local
    file, the server's entry (a fresh listing), the last synced state, the ignore or
    exclude rule that matches, the last change and any failure, and the operation the
    planner would choose now with the rule that chose it. Without the server the rest is
    still printed, then the server's error (exit 4 unreachable, 3 refused).
    """
    from rich.console import Console

    from syncd.cli.state_access import find_state
    from syncd.explain.gather import explain as gather

    state = find_state(config_file, flags_of(**kwargs))
    rel = workspace_path(state.root, path, Path.cwd())
    result = gather(
        state.settings, state.db_path, state.root, rel, mode_given=kwargs["mode"] is not None
    )
    info = {**result.value, "folder": str(state.root), "workspace": state.settings.workspace}
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
    else:
        render(info, Console())
    if result.error is not None:
        raise result.error
