"""Which package may import what: checked on the source, by AST.

1. Only ``syncd/transport/`` speaks HTTP as a client (httpx). The soak is exempt: it is
   the test harness that checks the client against the server, so it reads the server
   with raw HTTP rather than through the client code under test.
2. Only ``syncd/server/`` runs the ASGI stack (starlette, uvicorn).
3. Nothing below ``syncd/cli/`` imports ``syncd.cli``: the CLI sits on top. The planner's
   own purity rule is tests/unit/planner/test_purity.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import syncd

ROOT = Path(syncd.__file__).parent
SOURCES = sorted(ROOT.rglob("*.py"))

# (module prefix, packages allowed to import it, as paths relative to syncd/)
RULES = [
    ("httpx", ("transport/", "soak/")),
    ("starlette", ("server/",)),
    ("uvicorn", ("server/",)),
    ("syncd.cli", ("cli/", "__main__.py")),
]
# (file, module) pairs allowed against the rules above, each with why.
ALLOWED: set[tuple[str, str]] = set()


def imported(source: str) -> set[str]:
    """Every module a source file imports, at any depth (lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "syncd":  # ``from syncd import cli``
                found.update(f"syncd.{alias.name}" for alias in node.names)
    return found


def violations(rel: str, modules: set[str]) -> list[str]:
    out = []
    for prefix, allowed in RULES:
        if rel.startswith(allowed):
            continue
        for module in sorted(modules):
            hit = module == prefix or module.startswith(prefix + ".")
            if hit and (rel, module) not in ALLOWED:
                out.append(f"syncd/{rel} imports {module}")
    return out


def test_each_package_imports_only_what_its_layer_may():
    found = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        found += violations(rel, imported(path.read_text(encoding="utf-8")))
    assert found == []


def test_the_rule_catches_a_forbidden_import():
    assert violations("daemon/steps.py", imported("import httpx\n")) == [
        "syncd/daemon/steps.py imports httpx"
    ]
    lazy = "def f():\n    from starlette.responses import Response\n"
    assert violations("worker/ops.py", imported(lazy)) == [
        "syncd/worker/ops.py imports starlette.responses"
    ]
    assert violations("state/store.py", imported("from syncd.cli import main\n"))
    assert violations("daemon/loop.py", imported("from syncd import cli\n"))
    assert not violations("daemon/loop.py", imported("from syncd.session import open_session\n"))
    assert not violations("transport/client.py", imported("import httpx\n"))
