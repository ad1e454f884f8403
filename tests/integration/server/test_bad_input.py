"""Malformed input is a 400 ``invalid_parameter`` (or an ignored header), never a 500.

Each case once crashed the server with a traceback in its log: a lone surrogate reached
SQLite, deep nesting exhausted the JSON parser's stack, a size past 64 bits overflowed
SQLite's INTEGER, and ``str.isdigit`` let ``²`` through to ``int``. Unicode digits that
``int`` does accept (``٣``, ``１``, ``1_0``) were taken as numbers; they are 400 now too.
"""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from syncd.protocol import routes
from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import assert_error, files_url, put


def server_faults(server: ServerProcess, start: int = 0) -> list[str]:
    lines = server.stderr_lines[start:]
    return [line for line in lines if "Traceback" in line or " ERROR " in line]


@pytest.fixture(autouse=True)
def no_traceback(shared_server: ServerProcess):
    start = len(shared_server.stderr_lines)
    yield
    assert server_faults(shared_server, start) == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "\\ud800"}',
        b'{"name": "x\\udfff"}',
        b"[" * 100_000,
        b'{"name": ' + b"[" * 100_000 + b"}",
        b'{"name": NaN}',
        b'{"name": "\xff"}',
        '{"name": "x"}'.encode("utf-16"),
    ],
    ids=["surrogate", "low-surrogate", "deep", "deep-value", "nan", "not-utf8", "utf16"],
)
def test_bad_json_bodies(client: httpx.Client, ws: str, body: bytes) -> None:
    assert_error(client.post("/api/v1/workspaces", content=body), 400, "invalid_parameter")
    response = client.patch(f"/api/v1/workspaces/{ws}", content=body)
    assert_error(response, 400, "invalid_parameter")


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/workspaces/active", b'{"workspace_id": "\\ud800"}'),
        ("{ws}/files/a", b'{"op": "move", "dest": "\\ud800"}'),
        ("{ws}/uploads", b'{"path": "\\ud800", "size": 1}'),
        ("{ws}/uploads", b'{"path": "big", "size": 9223372036854775808}'),
        ("{ws}/uploads", b'{"path": "big", "size": 18446744073709551616}'),
        ("{ws}/uploads", b'{"path": "big", "size": -1}'),
    ],
)
def test_bad_fields(client: httpx.Client, ws: str, url: str, body: bytes) -> None:
    put(client, ws, "a", b"1")
    target = url.format(ws=f"/api/v1/workspaces/{ws}")
    assert_error(client.post(target, content=body), 400, "invalid_parameter")


def test_upload_size_limits_are_64_bit(client: httpx.Client, ws: str) -> None:
    uploads = f"/api/v1/workspaces/{ws}/uploads"
    largest = client.post(uploads, json={"path": "big", "size": 2**63 - 1})
    assert largest.status_code == 201, largest.text
    upload = f"{uploads}/{largest.json()['upload_id']}"
    assert_error(client.put(f"{upload}?offset={2**63}", content=b"x"), 400, "invalid_parameter")
    small = client.post(uploads, json={"path": "small", "size": 1}).json()["upload_id"]
    assert client.put(f"{uploads}/{small}?offset=0", content=b"x").status_code == 200
    commit = client.post(f"{uploads}/{small}/commit", json={"if_revision": 2**63})
    assert_error(commit, 400, "invalid_parameter")
    done = client.post(f"{uploads}/{small}/commit", json={"if_revision": 0})
    assert done.status_code == 200, done.text


@pytest.mark.parametrize(
    "value",
    ["\u00b2", "\u0663", "\uff11", "1_0", "+1", " 1", "9" * 5000],
    ids=["superscript", "arabic", "fullwidth", "underscore", "plus", "space", "huge"],
)
@pytest.mark.parametrize("name", ["from_revision", "limit", "wait"])
def test_numbers_in_the_query_are_ascii_digits(
    client: httpx.Client, ws: str, name: str, value: str
) -> None:
    put(client, ws, "a", b"1")
    params = {"from_revision": "0", name: value}
    response = client.get(f"/api/v1/workspaces/{ws}/changes", params=params)
    assert_error(response, 400, "invalid_parameter")


def test_upload_offset_is_ascii_digits(client: httpx.Client, ws: str) -> None:
    begun = client.post(f"/api/v1/workspaces/{ws}/uploads", json={"path": "u", "size": 1})
    upload = f"/api/v1/workspaces/{ws}/uploads/{begun.json()['upload_id']}"
    for value in ["\u00b2", "\u0660", "0_0"]:
        response = client.put(upload, params={"offset": value}, content=b"x")
        assert_error(response, 400, "invalid_parameter")


@pytest.mark.parametrize(
    "tag",
    [b'"\xb2"', b"\xb9", b'W/"\xb3"', b'"9223372036854775808"', b'"' + b"9" * 5000 + b'"'],
    ids=["quoted", "bare", "weak", "past-64-bits", "huge"],
)
def test_if_match_is_a_revision_in_ascii_digits(client: httpx.Client, ws: str, tag: bytes) -> None:
    put(client, ws, "a", b"1")
    headers = {"If-Match": tag}
    assert_error(put(client, ws, "a", b"2", **headers), 400, "invalid_parameter")  # type: ignore[arg-type]
    response = client.delete(files_url(ws, "a"), headers=headers)
    assert_error(response, 400, "invalid_parameter")
    response = client.post(files_url(ws, "a"), json={"op": "copy", "dest": "b"}, headers=headers)
    assert_error(response, 400, "invalid_parameter")


@pytest.mark.parametrize("spec", [b"bytes=\xb2-", b"bytes=0-\xb3", b"bytes=\xb9-\xb9"])
def test_range_with_unicode_digits_is_ignored(client: httpx.Client, ws: str, spec: bytes) -> None:
    put(client, ws, "a", b"hello")
    response = client.get(files_url(ws, "a"), headers={"Range": spec})
    assert response.status_code == 200 and response.content == b"hello"


def test_range_numbers_of_any_length(client: httpx.Client, ws: str) -> None:
    put(client, ws, "a", b"hello")
    past = client.get(files_url(ws, "a"), headers={"Range": "bytes=" + "9" * 5000 + "-"})
    assert past.status_code == 416
    assert past.headers["Content-Range"] == "bytes */5"
    padded = client.get(files_url(ws, "a"), headers={"Range": "bytes=" + "0" * 40 + "1-"})
    assert padded.status_code == 206 and padded.content == b"ello"
    whole = client.get(files_url(ws, "a"), headers={"Range": "bytes=1-" + "9" * 5000})
    assert whole.status_code == 206 and whole.content == b"ello"


@pytest.mark.parametrize("encoded", ["%ED%A0%80", "%ED%B0%80", "x/%ED%A0%80y"])
def test_lone_surrogates_in_the_url_path(client: httpx.Client, ws: str, encoded: str) -> None:
    response = client.put(f"/api/v1/workspaces/{ws}/files/{encoded}", content=b"x")
    assert_error(response, 400, "invalid_parameter")


def test_client_gone_inside_its_body_is_no_server_fault(
    shared_server: ServerProcess, api_key: str, ws: str
) -> None:
    request = (
        f"PUT /api/v1/workspaces/{ws}/files/cut HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {api_key}\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\nzz\r\n"  # one chunk, then a chunk header that is not one
    ).encode()
    with socket.create_connection(("127.0.0.1", shared_server.port)) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(10)
        while sock.recv(65536):
            pass
    deadline = time.monotonic() + 10
    marker = f"method=PUT route={routes.FILE} status=400 "
    while not any(marker in ln and f"={ws}" in ln for ln in shared_server.stderr_lines):
        assert time.monotonic() < deadline, "the request never reached the access log"
        time.sleep(0.05)
    assert server_faults(shared_server) == []
