"""Reading the trees the checks compare: client folders, the server workspace, the trashes.

1. A tree is ``path -> sha256`` of files; our marker and temp files are left out of it
   but reported separately (``temp_files``), since a leftover temp file is a failure.
2. Client paths are keyed by NFC, as the server keys them; two local spellings of one
   key are kept apart (``DUPLICATE:`` prefix) so they show up as a divergence.
3. The server tree is read directly from the server, never through the proxy.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path
from urllib.parse import quote

import httpx

TEMP_PREFIX = ".syncd-tmp-"
MARKER = ".syncd-root"


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def entries(root: Path) -> list[Path]:
    """Every user file and folder under ``root`` (sorted; ours left out)."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".syncd-"))
        base = Path(dirpath)
        found.extend(base / d for d in dirnames)
        found.extend(base / f for f in sorted(filenames) if not f.startswith(".syncd-"))
    return sorted(found, key=lambda p: p.as_posix())


def file_hashes(root: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every regular file under ``root``, ours included."""
    result: dict[str, str] = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            full = Path(dirpath) / name
            if full.is_file() and not full.is_symlink():
                result[full.relative_to(root).as_posix()] = _hash(full)
    return result


def local_tree(root: Path) -> dict[str, str]:
    """The folder as the server should hold it: NFC paths, our own files left out."""
    tree: dict[str, str] = {}
    for rel, digest in file_hashes(root).items():
        if any(seg.startswith(".syncd-") for seg in rel.split("/")):
            continue
        key = unicodedata.normalize("NFC", rel)
        tree["DUPLICATE:" + rel if key in tree else key] = digest
    return tree


def temp_files(root: Path) -> list[str]:
    """Our temp files left anywhere under ``root``."""
    return [rel for rel in file_hashes(root) if rel.rsplit("/", 1)[-1].startswith(TEMP_PREFIX)]


def trash_hashes(state_dir: Path) -> set[str]:
    """Every version kept in the trash of any state database in ``state_dir``."""
    found: set[str] = set()
    if state_dir.is_dir():
        for trash in state_dir.glob("*.trash"):
            found.update(file_hashes(trash).values())
    return found


def remote_tree(url: str, api_key: str, workspace: str) -> dict[str, str]:
    """``path -> sha256`` of every file of the workspace, over the base API."""
    tree: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        listing = http.get(f"/api/v1/workspaces/{workspace}/files")
        listing.raise_for_status()
        for entry in listing.json()["entries"]:
            if entry["type"] != "file":
                continue
            body = http.get(f"/api/v1/workspaces/{workspace}/files/{quote(entry['path'])}")
            body.raise_for_status()
            tree[entry["path"]] = hashlib.sha256(body.content).hexdigest()
    return tree


def snapshot_outside(root: Path, inside: set[str]) -> dict[str, str]:
    """Everything under ``root`` except the named children: must not change in a schedule."""
    result: dict[str, str] = {}
    for child in sorted(root.iterdir()):
        if child.name in inside:
            continue
        if child.is_dir():
            for rel, digest in file_hashes(child).items():
                result[f"{child.name}/{rel}"] = digest
            result[child.name + "/"] = "dir"
        else:
            result[child.name] = _hash(child)
    return result
