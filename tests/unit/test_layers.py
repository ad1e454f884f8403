"""The CLI sits on top: no module outside ``syncd/cli/`` imports it (checked by AST).

``syncd/__main__.py`` is the entry point and the one exception: it only starts the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import syncd

PACKAGE = Path(syncd.__file__).parent
ENTRY_POINT = PACKAGE / "__main__.py"


def _cli_imports(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[:2] == ["syncd", "cli"]]
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[:2] == ["syncd", "cli"]:
                found.append(node.module)
            elif node.module == "syncd" and any(a.name == "cli" for a in node.names):
                found.append("syncd.cli")
    return found


def test_nothing_below_the_cli_imports_it():
    sources = [
        p
        for p in PACKAGE.rglob("*.py")
        if "cli" not in p.relative_to(PACKAGE).parts[:1] and p != ENTRY_POINT
    ]
    assert len(sources) > 50  # the walk found the package
    bad = {str(p.relative_to(PACKAGE)): v for p in sources if (v := _cli_imports(p.read_text()))}
    assert bad == {}


def test_the_check_catches_each_spelling():
    assert _cli_imports("from syncd.cli.session import open_session") == ["syncd.cli.session"]
    assert _cli_imports("import syncd.cli.main") == ["syncd.cli.main"]
    assert _cli_imports("from syncd import cli") == ["syncd.cli"]
    assert _cli_imports("from syncd.session import open_session") == []
    assert _cli_imports("from syncd.client import x") == []
