"""E3: resumable uploads: offsets, resume point, commit checks, abort, restart, expiry."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest

from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import assert_error, files_url, listing, put


def begin(client: httpx.Client, ws: str, path: str, data: bytes, **extra: object) -> dict:
    body = {"path": path, "size": len(data), "hash": "sha256:" + hashlib.sha256(data).hexdigest()}
    response = client.post(f"/api/v1/workspaces/{ws}/uploads", json={**body, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def chunk(client: httpx.Client, ws: str, upload_id: str, offset: int, data: bytes):
    return client.put(f"/api/v1/workspaces/{ws}/uploads/{upload_id}?offset={offset}", content=data)


def commit(client: httpx.Client, ws: str, upload_id: str, **body: object) -> httpx.Response:
    return client.post(f"/api/v1/workspaces/{ws}/uploads/{upload_id}/commit", json=body)


def test_upload_in_chunks(client: httpx.Client, ws: str) -> None:
    data = b"0123456789" * 100
    session = begin(client, ws, "dir/big.bin", data)
    assert session["offset"] == 0 and session["chunk_size"] > 0 and session["expires_time"]
    uid = session["upload_id"]
    assert chunk(client, ws, uid, 0, data[:400]).json() == {"offset": 400}
    mismatch = chunk(client, ws, uid, 100, data[100:200])
    assert_error(mismatch, 409, "offset_mismatch")
    assert mismatch.json()["offset"] == 400
    resume = client.get(f"/api/v1/workspaces/{ws}/uploads/{uid}").json()
    assert resume == {"offset": 400, "size": 1000}
    assert "dir/big.bin" not in listing(client, ws)  # nothing visible before commit
    assert chunk(client, ws, uid, 400, data[400:]).json() == {"offset": 1000}
    entry = commit(client, ws, uid)
    assert entry.status_code == 200, entry.text
    assert entry.json()["path"] == "dir/big.bin" and entry.json()["size"] == 1000
    assert entry.json()["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert client.get(files_url(ws, "dir/big.bin")).content == data
    assert listing(client, ws)["dir"]["type"] == "directory"
    assert_error(client.get(f"/api/v1/workspaces/{ws}/uploads/{uid}"), 404, "not_found")


def test_commit_checks_size_and_hash(client: httpx.Client, ws: str) -> None:
    session = begin(client, ws, "h", b"right")
    uid = session["upload_id"]
    assert_error(chunk(client, ws, uid, 0, b"toolong"), 400, "invalid_parameter")
    chunk(client, ws, uid, 0, b"wro")
    assert_error(commit(client, ws, uid), 400, "invalid_parameter")  # incomplete
    chunk(client, ws, uid, 3, b"ng")
    assert_error(commit(client, ws, uid), 400, "invalid_parameter")  # hash differs
    assert "h" not in listing(client, ws)


def test_commit_conditions(client: httpx.Client, ws: str) -> None:
    put(client, ws, "c", b"old")
    rev = listing(client, ws)["c"]["revision"]
    for if_revision, status in [(0, 412), (rev + 5, 412), (rev, 200)]:
        session = begin(client, ws, "c", b"new")
        chunk(client, ws, session["upload_id"], 0, b"new")
        assert (
            commit(client, ws, session["upload_id"], if_revision=if_revision).status_code == status
        )
    assert client.get(files_url(ws, "c")).content == b"new"
    fresh = begin(client, ws, "fresh", b"1")
    chunk(client, ws, fresh["upload_id"], 0, b"1")
    assert commit(client, ws, fresh["upload_id"], if_revision=0).status_code == 200


def test_abort_and_unknown(client: httpx.Client, ws: str) -> None:
    session = begin(client, ws, "a", b"abc")
    uid = session["upload_id"]
    assert client.delete(f"/api/v1/workspaces/{ws}/uploads/{uid}").status_code == 204
    assert_error(chunk(client, ws, uid, 0, b"abc"), 404, "not_found")
    assert_error(client.get(f"/api/v1/workspaces/{ws}/uploads/nope"), 404, "not_found")
    bad = client.post(f"/api/v1/workspaces/{ws}/uploads", json={"path": "../x", "size": 1})
    assert_error(bad, 400, "invalid_parameter")
    bad = client.post(f"/api/v1/workspaces/{ws}/uploads", json={"path": "x", "size": -1})
    assert_error(bad, 400, "invalid_parameter")
    bad = client.post(
        f"/api/v1/workspaces/{ws}/uploads", json={"path": "x", "size": 1, "hash": "md5:00"}
    )
    assert_error(bad, 400, "invalid_parameter")


def test_a_chunk_refused_half_way_leaves_no_bytes_and_no_hash(client: httpx.Client, ws: str):
    data = bytes(range(256)) * 4096 * 3  # 3 MiB
    head = 1 << 20
    uid = begin(client, ws, "half.bin", data)["upload_id"]
    assert chunk(client, ws, uid, 0, data[:head]).json() == {"offset": head}

    def past_the_end():  # no Content-Length: refused only once its bytes pass the size
        yield data[head:]
        yield b"x" * 4096

    refused = chunk(client, ws, uid, head, past_the_end())  # type: ignore[arg-type]
    assert_error(refused, 400, "invalid_parameter")
    assert client.get(f"/api/v1/workspaces/{ws}/uploads/{uid}").json()["offset"] == head
    assert chunk(client, ws, uid, head, data[head:]).json() == {"offset": len(data)}
    assert commit(client, ws, uid).status_code == 200  # the hash holds only the kept bytes
    assert client.get(files_url(ws, "half.bin")).content == data


def test_upload_survives_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        key = server.create_account("restart")
        data = bytes(range(256)) * 64
        with server.client(key) as http:
            wid = http.post("/api/v1/workspaces").json()["id"]
            uid = begin(http, wid, "r.bin", data)["upload_id"]
            chunk(http, wid, uid, 0, data[:5000])
        assert server.restart().url
        with server.client(key) as http:
            assert http.get(f"/api/v1/workspaces/{wid}/uploads/{uid}").json()["offset"] == 5000
            assert chunk(http, wid, uid, 5000, data[5000:]).status_code == 200
            assert commit(http, wid, uid).status_code == 200
            assert http.get(files_url(wid, "r.bin")).content == data
    finally:
        assert server.stop() == 0


@pytest.fixture
def short_ttl(tmp_path: Path):
    with ServerProcess(tmp_path / "data", extra_args=["--upload-ttl", "1"]) as proc:
        yield proc


def test_sessions_expire_and_are_cleaned(short_ttl: ServerProcess) -> None:
    key = short_ttl.create_account("ttl")
    with short_ttl.client(key) as http:
        wid = http.post("/api/v1/workspaces").json()["id"]
        uid = begin(http, wid, "t", b"abc")["upload_id"]
        chunk(http, wid, uid, 0, b"a")
        part = short_ttl.data_dir / "uploads" / uid
        assert part.exists()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and part.exists():
            time.sleep(0.1)  # poll with a deadline for the housekeeping round
        assert not part.exists()
        assert_error(http.get(f"/api/v1/workspaces/{wid}/uploads/{uid}"), 404, "not_found")
