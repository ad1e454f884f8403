"""E1 (revisions, hashes, ETag, Range), E4 (If-Match, If-None-Match) and body limits."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import assert_error, files_url, listing, put


def test_capabilities(client: httpx.Client) -> None:
    caps = client.get("/api/v1/capabilities").json()
    assert set(caps) == {"changes", "uploads", "conditional", "hashes", "max_body", "batch"}
    assert caps["changes"] is caps["uploads"] is caps["conditional"] is True
    assert caps["hashes"] == "sha256" and caps["max_body"] > 0
    assert caps["batch"] == {"max_items": 1000, "max_bytes": 64 << 20}


def test_revision_hash_and_etag(client: httpx.Client, ws: str) -> None:
    put(client, ws, "a", b"one")
    first = listing(client, ws)["a"]
    assert first["hash"] == "sha256:" + hashlib.sha256(b"one").hexdigest()
    put(client, ws, "b", b"two")
    put(client, ws, "a", b"three")
    entries = listing(client, ws)
    assert entries["a"]["revision"] > entries["b"]["revision"] > first["revision"]
    got = client.get(files_url(ws, "a"))
    assert got.headers["etag"] == f'"{entries["a"]["revision"]}"'


def test_range(client: httpx.Client, ws: str) -> None:
    put(client, ws, "r", b"0123456789")
    part = client.get(files_url(ws, "r"), headers={"Range": "bytes=4-"})
    assert part.status_code == 206 and part.content == b"456789"
    assert part.headers["content-range"] == "bytes 4-9/10"
    last = client.get(files_url(ws, "r"), headers={"Range": "bytes=9-"})
    assert last.status_code == 206 and last.content == b"9"
    past = client.get(files_url(ws, "r"), headers={"Range": "bytes=10-"})
    assert_error(past, 416, "invalid_parameter")
    assert client.get(files_url(ws, "r"), headers={"Range": "junk"}).content == b"0123456789"


def test_range_on_a_streamed_file(client: httpx.Client, ws: str) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB: streamed from disk, not from memory
    put(client, ws, "big", data)
    assert client.get(files_url(ws, "big")).content == data
    part = client.get(files_url(ws, "big"), headers={"Range": "bytes=1000-"})
    assert part.status_code == 206 and part.content == data[1000:]


def test_if_match_on_put_delete_and_ops(client: httpx.Client, ws: str) -> None:
    put(client, ws, "f", b"v1")
    rev = listing(client, ws)["f"]["revision"]
    stale = f'"{rev - 1}"'
    assert_error(put(client, ws, "f", b"lost", **{"If-Match": stale}), 412, "precondition_failed")
    assert client.get(files_url(ws, "f")).content == b"v1"
    assert put(client, ws, "f", b"v2", **{"If-Match": f'"{rev}"'}).status_code == 204
    rev2 = listing(client, ws)["f"]["revision"]
    missing = put(client, ws, "new", b"x", **{"If-Match": '"1"'})
    assert_error(missing, 412, "precondition_failed")
    move = client.post(
        files_url(ws, "f"), json={"op": "move", "dest": "g"}, headers={"If-Match": f'"{rev}"'}
    )
    assert_error(move, 412, "precondition_failed")
    gone = client.delete(files_url(ws, "f"), headers={"If-Match": f'"{rev}"'})
    assert_error(gone, 412, "precondition_failed")
    assert client.delete(files_url(ws, "f"), headers={"If-Match": f'"{rev2}"'}).status_code == 204
    assert "f" not in listing(client, ws)
    assert_error(put(client, ws, "x", b"1", **{"If-Match": "nonsense"}), 400, "invalid_parameter")


def test_if_none_match_creates_only(client: httpx.Client, ws: str) -> None:
    assert put(client, ws, "once", b"first", **{"If-None-Match": "*"}).status_code == 204
    again = put(client, ws, "once", b"second", **{"If-None-Match": "*"})
    assert_error(again, 412, "precondition_failed")
    assert client.get(files_url(ws, "once")).content == b"first"


def test_mkdir_and_noop_do_not_bump_revision(client: httpx.Client, ws: str) -> None:
    client.post(files_url(ws, "d"), json={"op": "mkdir"})
    start = client.get(f"/api/v1/workspaces/{ws}/changes?from_revision=0").json()["end_revision"]
    client.post(files_url(ws, "d"), json={"op": "mkdir"})
    put(client, ws, "d", b"x")  # refused with 409: no revision either
    after = client.get(f"/api/v1/workspaces/{ws}/changes?from_revision=0").json()["end_revision"]
    assert after == start


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory):
    with ServerProcess(
        tmp_path_factory.mktemp("small") / "data", extra_args=["--max-body", "1000"]
    ) as proc:
        yield proc


def test_max_body_is_413_and_advertised(small_server: ServerProcess) -> None:
    key = small_server.create_account("small")
    with small_server.client(key) as http:
        caps = http.get("/api/v1/capabilities").json()
        assert caps["max_body"] == 1000
        wid = http.post("/api/v1/workspaces").json()["id"]
        assert put(http, wid, "ok", b"x" * 1000).status_code == 204
        assert_error(put(http, wid, "big", b"x" * 1001), 413, "too_large")

        def chunks():  # no Content-Length: the limit is enforced while streaming
            for _ in range(5):
                yield b"y" * 300

        streamed = http.put(files_url(wid, "streamed"), content=chunks())
        assert_error(streamed, 413, "too_large")
        assert set(listing(http, wid)) == {"ok"}
        session = http.post(
            f"/api/v1/workspaces/{wid}/uploads", json={"path": "u", "size": 5000}
        ).json()
        assert session["chunk_size"] <= 1000
        over = http.put(
            f"/api/v1/workspaces/{wid}/uploads/{session['upload_id']}?offset=0",
            content=b"z" * 1001,
        )
        assert_error(over, 413, "too_large")
