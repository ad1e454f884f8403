"""A hostile server: it speaks the protocol but lists paths that must never touch the disk.

``syncd sync`` against it writes nothing outside the folder, reports each bad entry on
stderr, syncs the good entries, and exits 1 (some items could not be synced).

The same harness serves the other answers no real server gives: a test sets ``entries``
(the listing), ``capabilities`` and ``feed`` (a change feed), or ``answer`` (any route).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

WS = "w-hostile"
T = "2026-11-22T10:00:00.000000+00:00"
GOOD = {"good.txt": b"good content", "sub/ok.txt": b"ok in a folder"}
BAD_FILES = [
    "../x",
    "../../escaped.txt",
    "/etc/syncd-hostile-x",
    "a//b",
    "nul\x00name.txt",
    "ctl\x01name.txt",
    "dot/./seg",
    "trail/",
    "x" * 256 + ".txt",
    "long/" + "/".join(["y" * 200] * 25),
]
KEY = "hostile-key"
Page = dict[str, Any]


def _file(path: str, data: bytes) -> dict[str, object]:
    return {"path": path, "type": "file", "size": len(data), "modified_time": T}


def _dir(path: str) -> dict[str, object]:
    return {"path": path, "type": "directory", "size": None, "modified_time": None}


def listing() -> list[dict[str, object]]:
    entries = [_dir("sub"), *(_file(p, d) for p, d in GOOD.items())]
    entries += [_file(p, b"hostile " + p.encode("utf-8", "replace")) for p in BAD_FILES]
    return sorted(entries, key=lambda e: str(e["path"]))


FULL_CAPABILITIES = {"changes": True, "uploads": False, "conditional": True, "hashes": "sha256"}


class Hostile:
    """The app and the requests it received (the client may upload, never must)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.entries: list[dict[str, object]] = listing()
        self.contents: dict[str, bytes] = dict(GOOD)  # what a file GET answers
        self.key = KEY
        self.capabilities: dict[str, object] | None = None  # None: base API only (404)
        self.feed: Callable[[int], Page] | None = None  # from_revision -> the page
        self.answer: Callable[[Request], Response | None] | None = None  # before any route
        self.app = Starlette(routes=[Route("/{rest:path}", self.any, methods=_METHODS)])

    def writes(self) -> list[str]:
        return [r for r in self.requests if not r.startswith("GET ")]

    def count(self, prefix: str) -> int:
        return sum(1 for r in self.requests if r.startswith(prefix))

    async def any(self, request: Request) -> Response:
        path = request.url.path
        self.requests.append(f"{request.method} {path}")
        if self.answer is not None:
            answered = self.answer(request)
            if answered is not None:
                return answered
        if request.headers.get("authorization") != f"Bearer {self.key}":
            return _error(401, "unauthorized")
        prefix = f"/api/v1/workspaces/{WS}/files"
        if path == "/api/v1/capabilities" and self.capabilities is not None:
            return JSONResponse(self.capabilities)
        if path == f"/api/v1/workspaces/{WS}/changes" and self.feed is not None:
            return JSONResponse(self.feed(int(request.query_params["from_revision"])))
        if path == "/api/v1/workspaces" and request.method == "GET":
            ws = {"id": WS, "name": "hostile", "size": 0, "create_time": T, "modified_time": T}
            return JSONResponse({"workspaces": [ws]})
        if path == f"/api/v1/workspaces/{WS}" and request.method == "GET":
            return JSONResponse(
                {"id": WS, "name": "hostile", "size": 0, "create_time": T, "modified_time": T}
            )
        if path == prefix and request.method == "GET":
            return JSONResponse({"entries": self.entries})
        if path.startswith(prefix + "/") and request.method == "GET":
            name = request.scope["path"][len(prefix) + 1 :]
            data = self.contents.get(name, b"hostile " + name.encode("utf-8", "replace"))
            return Response(data, media_type="application/octet-stream")
        if path.startswith(prefix + "/"):
            await request.body()
            return Response(status_code=204)
        return _error(404, "not_found")


_METHODS = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"]


def _error(status: int, code: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": code}, status_code=status)


@pytest.fixture
def hostile() -> Iterator[tuple[Hostile, str]]:
    app = Hostile()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app.app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):  # poll with a deadline until uvicorn accepts
        if server.started:
            started.set()
            break
        threading.Event().wait(0.01)
    assert started.is_set(), "hostile server did not start"
    yield app, f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = Path(dirpath) / name
            out[str(full.relative_to(root))] = hashlib.sha256(full.read_bytes()).hexdigest()
    return out


def sync_against(
    url: str,
    folder: Path,
    state_dir: Path,
    *args: str,
    key: str = KEY,
    command: str = "sync",
    debug: bool = False,
    retries: int = 1,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """One ``syncd sync`` (or ``command``) of ``folder`` against the hostile server."""
    env = {**os.environ, "SYNCD_API_KEY": key, "SYNCD_MAX_RETRIES": str(retries)}
    argv = [sys.executable, "-m", "syncd", *(["--debug"] if debug else []), command]
    argv += ["--server", url, "--workspace", WS]
    argv += ["--dir", str(folder), "--state-dir", str(state_dir), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout)


def test_hostile_listing_is_refused_and_the_rest_syncs(hostile, tmp_path):
    app, url = hostile
    jail = tmp_path / "jail"  # ../x and ../../escaped.txt would land in here or above it
    folder = jail / "deep" / "folder"
    folder.mkdir(parents=True)
    (jail / "deep" / "x").write_text("sentinel next to the folder")
    (tmp_path / "escaped.txt").write_text("sentinel two levels up")
    etc_before = Path("/etc/syncd-hostile-x").exists()
    outside_before = snapshot(tmp_path)
    proc = sync_against(url, folder, tmp_path / "state")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    # the good entries arrived
    assert (folder / "good.txt").read_bytes() == GOOD["good.txt"]
    assert (folder / "sub" / "ok.txt").read_bytes() == GOOD["sub/ok.txt"]
    # nothing outside the folder changed (state dir aside), and /etc was not written
    after = {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("state")}
    before = {k: v for k, v in outside_before.items() if not k.startswith("state")}
    inside = str(folder.relative_to(tmp_path))
    assert {k: v for k, v in after.items() if not k.startswith(inside)} == before
    assert Path("/etc/syncd-hostile-x").exists() == etc_before
    # inside the folder: only the good files (and our marker)
    local = {p for p in snapshot(folder) if not Path(p).name.startswith(".syncd-")}
    assert local == {"good.txt", "sub/ok.txt"}, local
    # each bad entry is reported on stderr
    for shown in ("../x", "/etc/syncd-hostile-x", "a//b", "dot/./seg"):
        assert shown in proc.stderr, (shown, proc.stderr)
    assert proc.stderr.count("bad entry from server") >= len(BAD_FILES), proc.stderr
    assert not [r for r in app.requests if r.startswith("DELETE")]
