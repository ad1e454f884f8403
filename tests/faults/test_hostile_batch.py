"""A hostile server's batch answers (E5, E6): bytes that are not what the record says,
records out of order, trailing bytes, results that do not match the request.

No real server sends these, so a small app does; the client must refuse each one as a
typed error and never hand over bytes it did not check.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd import errors
from syncd.transport import Client, MakeDir, PutFile, TransportSettings, WriteState

WS = "w-hostile"
T = "2026-11-22T10:00:00.000000+00:00"
Answer = Callable[[dict], Response]


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def record(path: str, data: bytes, *, claimed: bytes | None = None) -> bytes:
    """A 200 record for ``path`` whose hash is that of ``claimed`` (default: the bytes)."""
    head = {
        "path": path,
        "status": 200,
        "size": len(data),
        "revision": 1,
        "hash": sha(data if claimed is None else claimed),
        "modified_time": T,
    }
    return json.dumps(head).encode() + b"\n" + data


class Hostile:
    def __init__(self) -> None:
        self.read_answer: bytes = b""
        self.write_answer: object = {}
        self.app = Starlette(routes=[Route("/{rest:path}", self.any, methods=["GET", "POST"])])

    async def any(self, request: Request) -> Response:
        path = request.url.path
        await request.body()
        if path == "/api/v1/capabilities":
            caps = {
                "changes": True,
                "uploads": True,
                "conditional": True,
                "hashes": "sha256",
                "max_body": 1 << 30,
                "batch": {"max_items": 100, "max_bytes": 8 << 20},
            }
            return JSONResponse(caps)
        if path == f"/api/v1/workspaces/{WS}/batch-read":
            return Response(self.read_answer, media_type="application/vnd.syncd.records")
        if path == f"/api/v1/workspaces/{WS}/batch":
            return JSONResponse(self.write_answer)
        return JSONResponse({"error": "not_found", "message": "no"}, status_code=404)


@pytest.fixture
def hostile() -> Iterator[tuple[Hostile, Client]]:
    app = Hostile()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app.app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):  # poll with a deadline until uvicorn accepts
        if server.started:
            break
        threading.Event().wait(0.01)
    assert server.started, "hostile server did not start"
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = TransportSettings(url, "key", max_retries=1, backoff_initial=0.01, backoff_max=0.01)
    with Client(settings) as client:
        yield app, client
    server.should_exit = True
    thread.join(10)


def test_bytes_that_do_not_match_their_record_are_never_handed_over(
    hostile: tuple[Hostile, Client],
) -> None:
    app, client = hostile
    large = b"L" * (1 << 20)
    app.read_answer = (
        record("small", b"evil", claimed=b"good")
        + record("large", large, claimed=b"other")
        + record("fine", b"fine")
    )
    with client.batch.read(WS, ["small", "large", "fine"]) as items:
        small, big, fine = None, None, None
        for item in items:
            if item.path == "small":
                small = item
            elif item.path == "large":
                big = item
                handed: list[bytes] = []
                with pytest.raises(errors.ProtocolViolation):
                    for chunk in item.chunks():
                        handed.append(chunk)
                assert sum(map(len, handed)) < len(large)  # the last chunk was held back
            else:
                fine = item
                assert item.data == b"fine"
    assert small is not None and small.data is None and small.entry is None
    assert isinstance(small.error, errors.ProtocolViolation)
    assert big is not None and fine is not None


@pytest.mark.parametrize(
    "answer",
    [
        record("b", b"1") + record("a", b"2"),  # out of order
        record("a", b"1") + record("c", b"2"),  # not asked
        record("a", b"1") + record("b", b"2") + b"more",  # trailing bytes
        record("../a", b"1") + record("b", b"2"),  # a path that must not touch the disk
        b'{"path": "a", "status": 200}\n',  # no size, no hash
        b"not a record\n",
    ],
)
def test_a_malformed_read_answer_is_a_protocol_violation(
    hostile: tuple[Hostile, Client], answer: bytes
) -> None:
    app, client = hostile
    app.read_answer = answer
    with pytest.raises(errors.ProtocolViolation), client.batch.read(WS, ["a", "b"]) as items:
        for item in items:
            b"".join(item.chunks())


@pytest.mark.parametrize(
    "answer",
    [
        {"revision": 3, "results": []},  # fewer results than records
        {"revision": 3, "results": [{"path": "other", "status": 200}]},
        {"revision": 3, "results": [{"path": "d", "status": 200, "entry": {"path": "../d"}}]},
        {"revision": "3", "results": [{"path": "d", "status": 200}]},
        ["not", "an", "object"],
    ],
)
def test_a_write_answer_that_does_not_match_the_batch_is_ambiguous(
    hostile: tuple[Hostile, Client], answer: object, tmp_path: Path
) -> None:
    app, client = hostile
    app.write_answer = answer
    result = client.batch.write(WS, [MakeDir("d")])
    assert result.ambiguous and [r.state for r in result.results] == [WriteState.UNKNOWN]
    source = tmp_path / "f"
    source.write_bytes(b"f")
    app.write_answer = {"revision": 3, "results": [{"path": "f", "status": 200}]}
    assert client.batch.write(WS, [PutFile("f", source)]).results[0].is_applied
