"""``syncd sync --help`` loads no heavy module: start-up cost is paid only where it is used."""

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


def loaded_modules(*argv: str) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    ).stdout
    return set(out.split())


def test_sync_help_imports_no_heavy_module() -> None:
    modules = loaded_modules()
    assert "syncd.cli.sync" in modules  # the probe did reach the sync command
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []


def test_explain_help_imports_no_heavy_module() -> None:
    modules = loaded_modules("explain")
    assert "syncd.cli.explain" in modules
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []
