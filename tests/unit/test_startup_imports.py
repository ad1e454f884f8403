"""Start-up imports: ``syncd sync --help`` loads no heavy module, a sync no SQL toolkit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("rich", "sqlalchemy", "httpx", "starlette", "uvicorn", "prometheus_client", "syncd.server")
PROBE = """
import sys
from unittest import mock
from syncd.cli.main import main
command = sys.argv[1] if len(sys.argv) > 1 else "sync"
with mock.patch.object(sys, "argv", ["syncd", command, "--help"]):
    try:
        main()
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
print("\\n".join(sorted(sys.modules)))
"""


def loaded_modules(*argv: str, script: str = PROBE) -> set[str]:
    """The modules a fresh interpreter holds after running ``script`` with ``argv``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    ).stdout
    return set(out.split())


def loaded_of(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The modules that are one of ``names`` or lie inside one (not the placeholder of
    ``syncd.transport.httpx_cli``, which is no import of httpx)."""
    modules = modules - {"httpx._main"} if "httpx" not in modules else modules
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in names))


def test_sync_help_imports_no_heavy_module() -> None:
    modules = loaded_modules()
    assert "syncd.cli.sync" in modules  # the probe did reach the sync command
    assert loaded_of(modules, HEAVY) == []


def test_explain_help_imports_no_heavy_module() -> None:
    modules = loaded_modules("explain")
    assert "syncd.cli.explain" in modules
    assert loaded_of(modules, HEAVY) == []


SYNC_PATH = """
import sys, tempfile
from pathlib import Path
import syncd.cli.progress, syncd.config, syncd.planner.ops, syncd.reconciler, syncd.session
from syncd.remote.own_writes import OwnWrites, fast_forward
from syncd.local.ignore import Ignore
from syncd.state import Journal, Store
with tempfile.TemporaryDirectory() as tmp:
    with Store.open(Path(tmp) / "state.sqlite3") as store:  # created: its tables too
        store.meta.bind("http://127.0.0.1:1", "w-1", tmp)
        store.meta.set_cursor(0)
        store.base(), store.remote.tree(), store.hashes.view(), store.conflicts.rows()
        store.item_errors.record("a", "why"), store.dirty.mark(["a"])
        Journal(store).finish_sync(full=True)
        fast_forward(store, OwnWrites())
    Ignore.load(Path(tmp))  # a folder without a .syncdignore
import io
from syncd.cli.progress import TransferDisplay
with TransferDisplay.for_stream(io.StringIO()) as display:  # not a terminal: no bars
    display.start("a", 1), display.advance("a", 1), display.finish("a")
print("\\n".join(sorted(sys.modules)))
"""


def test_the_sync_path_and_its_state_load_no_sql_toolkit() -> None:
    """A no-op ``syncd sync`` imports the engine and opens the state: plain sqlite3 only,
    and gitignore matching only for a folder that has rules."""
    modules = loaded_modules(script=SYNC_PATH)
    assert {"syncd.session", "syncd.state.store", "sqlite3", "httpx"} <= modules
    heavy = ("sqlalchemy", "pathspec", "starlette", "uvicorn", "prometheus_client", "syncd.server")
    assert loaded_of(modules, heavy) == []


def test_a_sync_that_draws_no_bars_loads_no_rich_nor_httpx_own_command_line() -> None:
    """rich draws the bars on a terminal only, and httpx's CLI (rich, pygments) is kept
    out of ``import httpx``."""
    modules = loaded_modules(script=SYNC_PATH)
    assert "httpx" in modules
    assert loaded_of(modules, ("rich", "pygments")) == []


def test_the_worker_is_loaded_only_for_a_plan_with_work() -> None:
    modules = loaded_modules(script=SYNC_PATH)
    assert "syncd.session" in modules
    assert loaded_of(modules, ("syncd.worker.queue", "syncd.worker.ops")) == []


HTTPX_MAIN = """
import sys
import syncd.transport.client
import httpx
try:
    httpx.main(["--help"])
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
print("\\n".join(sorted(sys.modules)))
"""


def test_httpx_own_command_line_still_runs_when_called() -> None:
    modules = loaded_modules(script=HTTPX_MAIN)
    assert {"httpx._main", "rich.console"} <= modules
