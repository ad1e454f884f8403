"""Where a state database lives: one file per (server URL, workspace, local folder).

1. The name is a readable slug plus a short hash of the canonical triple, so the same
   triple always finds the same file and two triples never share one.
2. The server URL is canonicalised without credentials, query or fragment: a password
   in a URL never reaches a file name, and ``HTTP://Host/`` and ``http://host`` agree.
3. The database is never inside the synced folder (it would sync itself); asking for
   that is a ``UsageError``.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from syncd.errors import UsageError

DB_SUFFIX = ".sqlite3"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SLUG_PART_MAX = 40
_HASH_CHARS = 16


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/syncd``, else ``~/.local/state/syncd`` (XDG base directories)."""
    root = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(root) / "syncd"


def canonical_server(server: str) -> str:
    """The server URL as the state knows it: lower-case scheme and host, no userinfo,
    no default port, no query or fragment, no trailing slash."""
    parts = urlsplit(server.strip())
    if not parts.scheme or not parts.hostname:
        raise UsageError(f"invalid server URL: {_redact(server)}", hint="e.g. http://host:8765")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"invalid port in server URL: {_redact(server)}") from exc
    default = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port is None or port == default else f"{host}:{port}"
    path = parts.path.rstrip("/")
    return f"{scheme}://{netloc}{path}"


def canonical_folder(folder: Path | str) -> Path:
    """The absolute folder path with symlinks resolved; works when it does not exist."""
    return Path(os.path.abspath(folder)).resolve(strict=False)


def state_db_path(state_dir: Path | str, server: str, workspace: str, folder: Path | str) -> Path:
    """The database file for this triple, under ``state_dir`` (not created here).

    Example: ``127.0.0.1-8765_ws1_photos-3f2a...sqlite3``. The slug is only for people
    reading the directory; the hash is what keeps triples apart.
    """
    server_key = canonical_server(server)
    folder_key = canonical_folder(folder)
    state_root = canonical_folder(state_dir)
    if state_root == folder_key or state_root.is_relative_to(folder_key):
        raise UsageError(
            f"the state directory {state_root} is inside the synced folder {folder_key}",
            hint="pass --state-dir outside the folder",
        )
    triple = "\0".join((server_key, workspace, str(folder_key)))
    digest = hashlib.sha256(triple.encode("utf-8", "surrogateescape")).hexdigest()
    host = urlsplit(server_key).netloc
    slug = "_".join(_slug(part) for part in (host, workspace, folder_key.name or "root"))
    return Path(state_dir) / f"{slug}-{digest[:_HASH_CHARS]}{DB_SUFFIX}"


def _slug(text: str) -> str:
    cleaned = _UNSAFE.sub("-", text).strip("-.") or "x"
    return cleaned[:_SLUG_PART_MAX]


def _redact(server: str) -> str:
    """The URL with any userinfo replaced, for error messages."""
    parts = urlsplit(server)
    if parts.username is None and parts.password is None:
        return server
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()
