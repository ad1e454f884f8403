"""SIGTERM drains a real ``syncd serve``: long polls answer, uploads finish or resume, exit 0.

The bound on each stop is the harness's stop timeout: a server that waited out a long
poll or its drain timeout instead would be killed, and its exit code would not be 0.
"""

from __future__ import annotations

import hashlib
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd.soak.harness import ServerProcess, wait_until
from tests.integration.server.conftest import files_url, put
from tests.integration.server.test_health_and_metrics import value

SIZE = 1 << 20
STOP_WITHIN = 10.0  # seconds; every drain below is far shorter, or the test would fail


@pytest.fixture
def draining(tmp_path: Path) -> Iterator[tuple[ServerProcess, str, str]]:
    """A server whose drain timeout (30 s) is longer than any stop the tests allow."""
    server = ServerProcess(tmp_path / "data", ["--drain-timeout", "30"]).start()
    key = server.create_account("drain")
    with server.client(key) as http:
        ws = http.post("/api/v1/workspaces").json()["id"]
        put(http, ws, "a", b"1")
    try:
        yield server, key, ws
    finally:
        server.stop(signal.SIGKILL)


def refuses_connections(server: ServerProcess) -> bool:
    try:
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def send_term(server: ServerProcess) -> None:
    assert server.proc is not None
    server.proc.send_signal(signal.SIGTERM)


def exit_code(server: ServerProcess) -> int:
    assert server.proc is not None
    return server.proc.wait(STOP_WITHIN)


class Body:
    """An upload body sent in two halves, the second only once ``release`` is set."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.release = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        half = len(self.data) // 2
        yield self.data[:half]
        self.release.wait(60)
        yield self.data[half:]


def begin_upload(http: httpx.Client, ws: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    answer = http.post(
        f"/api/v1/workspaces/{ws}/uploads",
        json={"path": "big.bin", "size": len(data), "hash": digest},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["upload_id"]


def send_chunk(
    server: ServerProcess, key: str, url: str, body: Body, into: list
) -> threading.Thread:
    def run() -> None:
        with server.client(key) as own:
            try:
                into.append(
                    own.put(
                        url,
                        params={"offset": 0},
                        content=body,
                        headers={"Content-Length": str(len(body.data))},
                        timeout=60,
                    )
                )
            except httpx.TransportError as exc:
                into.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def in_flight_besides_the_scrape(server: ServerProcess) -> bool:
    return value(server, "syncd_http_requests_in_flight") >= 2


def test_sigterm_answers_a_parked_long_poll_at_once(draining) -> None:
    server, key, ws = draining
    answers: list = []

    def poll() -> None:
        with server.client(key) as own:
            answers.append(
                own.get(
                    f"/api/v1/workspaces/{ws}/changes",
                    params={"from_revision": 1, "wait": 60},
                    timeout=90,
                )
            )

    poller = threading.Thread(target=poll)
    poller.start()
    assert wait_until(lambda: value(server, "syncd_long_polls_parked") == 1, 20)
    send_term(server)
    assert exit_code(server) == 0
    poller.join(STOP_WITHIN)
    assert [a.status_code for a in answers] == [200]
    page = answers[0].json()
    assert page["created"] == page["updated"] == page["deleted"] == []
    assert page["end_revision"] == 1  # the client's next poll starts where it was
    assert any("event=draining" in line for line in server.stderr_lines)


def test_sigterm_lets_an_in_flight_upload_finish(draining) -> None:
    server, key, ws = draining
    data = hashlib.sha256(b"drain").digest() * (SIZE // 32)
    with server.client(key) as http:
        upload = begin_upload(http, ws, data)
    url = f"/api/v1/workspaces/{ws}/uploads/{upload}"
    body, answers = Body(data), []
    sender = send_chunk(server, key, url, body, answers)
    assert wait_until(lambda: in_flight_besides_the_scrape(server), 20)
    send_term(server)
    assert wait_until(lambda: refuses_connections(server), STOP_WITHIN)  # stopped accepting
    body.release.set()
    sender.join(STOP_WITHIN)
    assert exit_code(server) == 0
    assert [a.status_code for a in answers] == [200], answers
    assert answers[0].json() == {"offset": SIZE}
    server.start()  # same data directory, same port: the session is still there
    with server.client(key) as http:
        assert http.post(f"{url}/commit", json={}).status_code == 200
        assert http.get(files_url(ws, "big.bin")).content == data


def test_a_stalled_upload_is_cut_at_the_drain_timeout_and_resumes(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ["--drain-timeout", "0.5"]).start()
    key = server.create_account("stall")
    data = hashlib.sha256(b"stall").digest() * (SIZE // 32)
    with server.client(key) as http:
        ws = http.post("/api/v1/workspaces").json()["id"]
        upload = begin_upload(http, ws, data)
    url = f"/api/v1/workspaces/{ws}/uploads/{upload}"
    body, answers = Body(data), []
    sender = send_chunk(server, key, url, body, answers)
    try:
        assert wait_until(lambda: in_flight_besides_the_scrape(server), 20)
        send_term(server)
        assert exit_code(server) == 0
    finally:
        body.release.set()
        sender.join(STOP_WITHIN)
    # The server answered 503 (retry) before it closed, or the client saw the close
    # while it still sent; either way the chunk did not count, and nothing was a 500.
    assert len(answers) == 1, answers
    cut = answers[0]
    if isinstance(cut, httpx.Response):
        assert cut.status_code == 503 and cut.json()["error"] == "unavailable"
        assert cut.headers["retry-after"] == "1"
    else:
        assert isinstance(cut, httpx.TransportError)
    server.start()
    try:
        with server.client(key) as http:  # what a client does after a lost chunk: ask, resume
            offset = http.get(url).json()["offset"]
            assert 0 <= offset < SIZE
            resumed = http.put(url, params={"offset": offset}, content=data[offset:])
            assert resumed.json() == {"offset": SIZE}
            assert http.post(f"{url}/commit", json={}).status_code == 200
            assert http.get(files_url(ws, "big.bin")).content == data
    finally:
        assert server.stop() == 0
    assert not [line for line in server.stderr_lines if "Traceback" in line]


def test_systemd_hears_ready_and_stopping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        address = tmp_path / "notify"
        listener.bind(str(address))
        listener.settimeout(STOP_WITHIN)
        monkeypatch.setenv("NOTIFY_SOCKET", str(address))
        server = ServerProcess(tmp_path / "data").start()
        try:
            ready = listener.recv(4096).decode()
            assert ready.splitlines() == ["READY=1", f"STATUS=listening on {server.url}"]
        finally:
            assert server.stop() == 0
        assert listener.recv(4096).decode().splitlines()[0] == "STOPPING=1"
