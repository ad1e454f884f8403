"""Running the server: readiness line, clean stops, startup errors, access log, OpenAPI."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from syncd.protocol import routes
from syncd.server.app import AccessLog, _unexpected
from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import files_url, put


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_is_clean_even_with_a_long_poll_in_flight(tmp_path: Path, sig: int) -> None:
    server = ServerProcess(tmp_path / "data").start()
    key = server.create_account("stop")
    result: dict = {}
    with server.client(key) as http:
        ws = http.post("/api/v1/workspaces").json()["id"]
        put(http, ws, "a", b"1")
        sending = threading.Event()

        def poll() -> None:
            with server.client(key) as own:
                sending.set()
                try:
                    result["response"] = own.get(
                        f"/api/v1/workspaces/{ws}/changes",
                        params={"from_revision": 1, "wait": 60},
                        timeout=90,
                    )
                except httpx.TransportError as exc:  # refused: the server stopped first
                    result["error"] = exc

        poller = threading.Thread(target=poll)
        poller.start()
        assert sending.wait(10)
        # Let the poll reach the server: a request that answers proves the loop is serving.
        assert http.get("/api/v1/accounts/me").status_code == 200
        started = time.monotonic()
        assert server.stop(sig) == 0
        poller.join(30)
    assert time.monotonic() - started < 12
    if "response" in result:  # answered at once, with an empty page
        assert result["response"].status_code == 200
        assert result["response"].json()["created"] == []
    else:
        assert isinstance(result["error"], httpx.ConnectError)


def test_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = serve("--data-dir", str(tmp_path / "d"), "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "cannot listen" in done.stderr
    assert "listening on" not in done.stdout


def test_bad_data_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    for target in [not_a_dir, not_a_dir / "below"]:
        done = serve("--data-dir", str(target), "--port", "0")
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().count("\n") == 0 and "data directory" in done.stderr


def test_access_log_never_shows_the_key(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    key = server.create_account("log")
    with server.client(key) as http:
        ws = http.post("/api/v1/workspaces").json()["id"]
        put(http, ws, "logged.txt", b"1")
        http.get(files_url(ws, "logged.txt"))
        with httpx.Client(base_url=server.url) as anon:
            anon.get("/api/v1/workspaces", headers={"Authorization": f"Bearer {key}x"})
    assert server.stop() == 0
    log = "\n".join(server.stderr_lines)
    assert f"method=PUT route={routes.FILE} status=204 " in log
    assert f"method=GET route={routes.WORKSPACES} status=401 " in log
    assert key not in log
    assert "logged.txt" not in log  # the route template, never the file's name
    assert "Traceback" not in log


def test_openapi_document(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in [
        "/api/v1/accounts/{account_id}",
        "/api/v1/workspaces/{workspace_id}/files/{file_path}",
        "/api/v1/workspaces/{workspace_id}/changes",
        "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/commit",
    ]:
        assert path in doc["paths"]
    assert set(doc["paths"]["/api/v1/workspaces/{workspace_id}"]) == {"get", "patch", "delete"}


def test_unexpected_exception_is_a_json_500() -> None:
    async def boom(_request):
        raise RuntimeError("kaput")

    app = AccessLog(
        Starlette(routes=[Route("/x", boom)], exception_handlers={Exception: _unexpected})
    )

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
            return await http.get("/x")

    response = asyncio.run(call())
    assert response.status_code == 500
    assert response.json() == {"error": "internal", "message": "internal server error"}
