"""Everything a sync could change, captured so two moments can be compared exactly.

A folder or state directory is captured entry by entry (type, mode, size, inode, mtime,
ctime and the bytes of every file), so a file written back with the same content, a
temp file created and removed again (its folder's mtime moves) or a database touched
(a ``-wal`` appearing) all show up. The server is captured through its API: the workspace,
the listing with every file's bytes and, with the change feed, the current revision.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from syncd.soak.harness import ServerProcess

Tree = dict[str, tuple[Any, ...]] | None


def disk_snapshot(root: Path) -> Tree:
    """Every entry below ``root`` (and ``root`` itself); None when ``root`` does not exist."""
    if not os.path.lexists(root):
        return None
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            full = Path(dirpath) if name == "." else Path(dirpath) / name
            st = os.lstat(full)
            rel = full.relative_to(root).as_posix()
            content = None
            if os.path.islink(full):
                content = os.readlink(full)
            elif full.is_file():
                content = hashlib.sha256(full.read_bytes()).hexdigest()
            out[rel] = (st.st_mode, st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns, content)
    return out


def server_snapshot(server: ServerProcess, api_key: str, workspace: str) -> dict[str, Any]:
    """The workspace, its listing with every file's bytes and, on a full server, its revision."""
    with server.client(api_key) as http:
        ws = http.get(f"/api/v1/workspaces/{workspace}").json()
        entries = http.get(f"/api/v1/workspaces/{workspace}/files").json()["entries"]
        contents = {}
        for entry in entries:
            if entry["type"] == "file":
                url = f"/api/v1/workspaces/{workspace}/files/{quote(entry['path'], safe='/')}"
                contents[entry["path"]] = hashlib.sha256(http.get(url).content).hexdigest()
        feed = http.get(
            f"/api/v1/workspaces/{workspace}/changes", params={"from_revision": 0, "limit": 10000}
        )
        revision = feed.json()["end_revision"] if feed.status_code == 200 else None
    return {"workspace": ws, "entries": entries, "contents": contents, "revision": revision}
