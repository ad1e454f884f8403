"""The server's layers: service modules speak no HTTP, and only the server serves it."""

from __future__ import annotations

import ast
from pathlib import Path

import syncd

PACKAGE = Path(syncd.__file__).parent
HTTP = {"starlette", "uvicorn"}


def _imports(source: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_service_modules_import_no_http_framework() -> None:
    for source in sorted((PACKAGE / "server" / "service").rglob("*.py")):
        assert not _imports(source) & HTTP, f"{source.name} imports an HTTP framework"


def test_nothing_outside_the_server_imports_the_http_server() -> None:
    server = PACKAGE / "server"
    for source in sorted(PACKAGE.rglob("*.py")):
        if server in source.parents:
            continue
        assert not _imports(source) & HTTP, f"{source.relative_to(PACKAGE)} imports {HTTP}"


def test_routes_and_services_reach_blob_files_only_through_the_blob_store() -> None:
    server = PACKAGE / "server"
    for source in sorted([*(server / "service").rglob("*.py"), *(server / "routes").rglob("*.py")]):
        text = source.read_text()
        for name in ("path_of", "blob_dir", ".tmp", "FileBlobStore"):
            assert name not in text, f"{source.name} uses {name}: go through Blobs / BlobStore"
