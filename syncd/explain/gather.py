"""Explain one path: the facts that need no server first, then the server's part.

1. The local facts, the state's rows and the ignore rules never need the server, so they
   are read first and always shown; a server that cannot be reached (or refuses us) only
   leaves the remote facts and the plan unknown, and its error is handed back for the
   caller to print after them and exit with its code.
2. Nothing is written anywhere: the state is a private copy, the folder is only looked
   at, and the server only gets read requests (``plan.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from syncd.config import Settings
from syncd.daemon.liveness import is_running
from syncd.errors import SyncdError, UsageError
from syncd.explain.assemble import assemble
from syncd.explain.facts import read_facts
from syncd.explain.plan import PathPlan, RemoteRead, plan_path, read_remote
from syncd.session import open_session
from syncd.state.store import Store

DEFAULT_MODE = Settings().mode


@dataclass
class Explanation:
    """The JSON-ready value and the server's error, if its part failed."""

    value: dict[str, Any]
    error: SyncdError | None = None


def plan_mode(settings: Settings, last_pass: str | None, *, is_given: bool) -> tuple[str, str]:
    """The mode to plan in and where it came from: ``--mode``, else the settings, except
    that settings left at two-way defer to a one-way mode the last sync ran (a daemon
    started with ``--mode`` keeps that mode on its command line, not in the config)."""
    if is_given:
        return settings.mode, "option"
    if settings.mode == DEFAULT_MODE and last_pass not in (None, DEFAULT_MODE):
        return str(last_pass), "last sync"
    return settings.mode, "settings"


def explain(
    settings: Settings, db_path: Path, root: Path, path: str, *, mode_given: bool = False
) -> Explanation:
    """Everything syncd knows and would do for ``path`` (workspace-relative, NFC)."""
    with Store.open_copy(db_path) as store:
        facts = read_facts(root, store, path)
    mode, mode_source = plan_mode(settings, facts.last_mode, is_given=mode_given)
    settings = replace(settings, mode=mode)
    read: RemoteRead | None = None
    plan: PathPlan | None = None
    error: SyncdError | None = None
    if not settings.api_key:
        error = _no_key()
    else:
        try:
            with open_session(
                replace(settings, dry_run=True), command="syncd explain", beside_daemon=True
            ) as session:
                read = read_remote(session.client, session.workspace_id, path)
                plan = plan_path(session.engine, path)
        except SyncdError as exc:
            error = exc
    why = error.describe() if error is not None else None
    value = assemble(
        facts,
        read=read,
        plan=plan,
        mode=mode,
        mode_source=mode_source,
        excluded_config=settings.exclude,
        daemon_running=facts.daemon is not None and is_running(facts.daemon.pid),
        remote_error=why if read is None else None,
        plan_error=why if plan is None else None,
    )
    return Explanation(value, error)


def _no_key() -> SyncdError:
    return UsageError(
        "missing API key: the remote facts and the plan need the server",
        hint="--api-key-file, SYNCD_API_KEY or api_key in the config",
    )

    return True
