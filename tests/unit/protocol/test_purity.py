"""The wire package is shared by server, client and tests: no HTTP, no I/O, no either side."""

from __future__ import annotations

import ast
from pathlib import Path

import syncd.protocol

ALLOWED = {"__future__", "json", "re", "dataclasses", "collections", "typing", "unicodedata"}
ALLOWED |= {"enum", "urllib"}  # the wire error codes, URL encoding
ALLOWED_SYNCD = {"syncd.errors", "syncd.paths"}
PACKAGE = Path(syncd.protocol.__file__).parent


def _imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_protocol_imports_only_the_standard_library_and_shared_syncd_modules() -> None:
    for source in sorted(PACKAGE.glob("*.py")):
        for module in _imports(source.read_text()):
            top = module.split(".")[0]
            ok = (
                top in ALLOWED
                or module in ALLOWED_SYNCD
                or module == "syncd.protocol"
                or module.startswith("syncd.protocol.")
            )
            assert ok, f"{source.name} imports {module}"
