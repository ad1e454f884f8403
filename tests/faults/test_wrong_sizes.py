"""A base-only server whose file bodies disagree with its own listing.

No real server sends this (its bodies are its listing's bytes), so a small app does: one
file comes back shorter than listed, one endlessly longer (chunked, so no length warns
of it), one announces a far larger Content-Length. ``syncd sync`` installs none of them,
reads no further than the listed size, reports each one and syncs the rest; the next
sync reports them again instead of quietly downloading them once more.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

WS = "w-sizes"
T = "2026-11-22T10:00:00.000000+00:00"
LISTED = 100_000
GOOD = b"listed and served alike"
HUGE = 1 << 30  # what the long bodies would be if nobody stopped reading


class WrongSizes:
    """The app, and how many body bytes it managed to hand to the socket per path."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.gets: dict[str, int] = {}
        self.app = Starlette(
            routes=[Route("/{rest:path}", self.any, methods=["GET", "PUT", "POST", "DELETE"])]
        )

    def _endless(self, name: str) -> Iterator[bytes]:
        block = b"x" * 65536
        while self.sent.get(name, 0) < HUGE:
            self.sent[name] = self.sent.get(name, 0) + len(block)
            yield block

    async def any(self, request: Request) -> Response:
        path = request.url.path
        if request.headers.get("authorization") != "Bearer sizes-key":
            return JSONResponse({"error": "unauthorized", "message": "no"}, status_code=401)
        ws = {"id": WS, "name": "sizes", "size": 0, "create_time": T, "modified_time": T}
        prefix = f"/api/v1/workspaces/{WS}/files"
        if path == "/api/v1/workspaces":
            return JSONResponse({"workspaces": [ws]})
        if path == f"/api/v1/workspaces/{WS}":
            return JSONResponse(ws)
        if path == prefix:
            entries = [
                {"path": name, "type": "file", "size": size, "modified_time": T}
                for name, size in (
                    ("good.txt", len(GOOD)),
                    ("long-announced.bin", LISTED),
                    ("long-chunked.bin", LISTED),
                    ("short.bin", LISTED),
                )
            ]
            return JSONResponse({"entries": entries})
        if path.startswith(prefix + "/") and request.method == "GET":
            name = path[len(prefix) + 1 :]
            self.gets[name] = self.gets.get(name, 0) + 1
            if name == "good.txt":
                return Response(GOOD, media_type="application/octet-stream")
            if name == "short.bin":
                return Response(b"s" * (LISTED // 2), media_type="application/octet-stream")
            headers = {"Content-Length": str(HUGE)} if name == "long-announced.bin" else {}
            return StreamingResponse(
                self._endless(name), media_type="application/octet-stream", headers=headers
            )
        return JSONResponse({"error": "not_found", "message": "no"}, status_code=404)


@pytest.fixture
def wrong_sizes() -> Iterator[tuple[WrongSizes, str]]:
    app = WrongSizes()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(500):  # poll with a deadline until uvicorn accepts
        if server.started:
            started.set()
            break
        threading.Event().wait(0.01)
    assert started.is_set(), "the test server did not start"
    yield app, f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def sync(url: str, folder: Path, state_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYNCD_API_KEY": "sizes-key", "SYNCD_MAX_RETRIES": "1"}
    argv = [sys.executable, "-m", "syncd", "sync", "--server", url, "--workspace", WS]
    argv += ["--dir", str(folder), "--state-dir", str(state_dir)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)


def largest_file(root: Path) -> int:
    return max((p.stat().st_size for p in root.rglob("*") if p.is_file()), default=0)


def test_bodies_that_disagree_with_the_listing_are_never_installed(wrong_sizes, tmp_path):
    app, url = wrong_sizes
    folder, state = tmp_path / "folder", tmp_path / "state"
    folder.mkdir()
    for attempt in range(2):
        proc = sync(url, folder, state)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
        assert (folder / "good.txt").read_bytes() == GOOD
        local = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".syncd-"))
        assert local == ["good.txt"], local
        for name in ("short.bin", "long-chunked.bin", "long-announced.bin"):
            assert f"could not sync {name}" in proc.stderr, (attempt, name, proc.stderr)
        assert proc.stderr.count(f"the server lists {LISTED} bytes and sent") >= 3
        # reading stopped at the listed size: no disk was filled, here or in the state
        assert largest_file(folder) <= LISTED and largest_file(state) < 10 * LISTED
        assert app.sent.get("long-chunked.bin", 0) < 64 * 1024 * 1024, app.sent
    assert hashlib.sha256((folder / "good.txt").read_bytes()).digest()


def test_a_comparison_against_a_wrong_body_leaves_the_path_alone(wrong_sizes, tmp_path):
    _app, url = wrong_sizes
    folder, state = tmp_path / "folder", tmp_path / "state"
    folder.mkdir()
    mine = os.urandom(LISTED)  # listed size alike: the first sync must compare contents
    (folder / "short.bin").write_bytes(mine)
    (folder / "long-chunked.bin").write_bytes(mine)
    proc = sync(url, folder, state)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    for name in ("short.bin", "long-chunked.bin"):
        assert f"could not sync {name}: " in proc.stderr, proc.stderr
        assert (folder / name).read_bytes() == mine  # untouched, no conflict copy made
    local = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".syncd-"))
    assert local == ["good.txt", "long-chunked.bin", "short.bin"], local
    assert "op=Upload" not in proc.stderr and "op=KeepBoth" not in proc.stderr
