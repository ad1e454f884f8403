"""Path validation of PROTOCOL.md (General), table-driven, through the raw request target."""

from __future__ import annotations

import http.client
import unicodedata

import httpx
import pytest

from tests.integration.server.conftest import assert_error, files_url, listing

# (raw, percent-encoded path as sent on the wire, why it is refused)
REFUSED = [
    ("a%FFb", "invalid UTF-8"),
    ("%C3", "truncated UTF-8"),
    ("a//b", "empty segment"),
    ("a/", "trailing slash"),
    ("%2Fabs", "leading slash (encoded)"),
    ("./a", "dot segment"),
    ("a/%2E%2E/b", "dot-dot segment (encoded)"),
    ("a/..", "trailing dot-dot"),
    ("a%00b", "NUL"),
    ("a%1Fb", "C0 control"),
    ("a%7Fb", "DEL"),
    ("a%C2%85b", "C1 control (NEL)"),
    ("a%0Ab", "newline"),
    ("x" * 256, "segment of 256 bytes"),
    ("%C3%A9" * 128, "segment of 256 bytes in two-byte characters"),
    ("/".join(["y" * 200] * 20) + "/" + "z" * 77, "path of 4097 bytes"),
]

ACCEPTED = [
    ("back%5Cslash", "back\\slash"),
    ("...", "..."),
    ("with%20space", "with space"),
    ("x" * 255, "x" * 255),
    ("q%3Fmark", "q?mark"),
    ("hash%23tag", "hash#tag"),
    ("pct%2541", "pct%41"),
    ("%2E.hidden", "..hidden"),
    ("emoji%F0%9F%98%80", "emoji\U0001f600"),
    ("deep%2Fvia%2Fencoded", "deep/via/encoded"),
]


def raw_put(client: httpx.Client, ws: str, encoded: str, data: bytes = b"1") -> httpx.Response:
    """PUT with the request target exactly as given (httpx would remove dot segments)."""
    url = client.base_url
    conn = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        conn.request(
            "PUT",
            f"/api/v1/workspaces/{ws}/files/{encoded}",
            body=data,
            headers={"Authorization": client.headers["authorization"]},
        )
        answer = conn.getresponse()
        return httpx.Response(answer.status, content=answer.read())
    finally:
        conn.close()


@pytest.mark.parametrize(("encoded", "why"), REFUSED, ids=[why for _, why in REFUSED])
def test_refused(client: httpx.Client, ws: str, encoded: str, why: str) -> None:
    assert_error(raw_put(client, ws, encoded), 400, "invalid_parameter")
    assert listing(client, ws) == {}


@pytest.mark.parametrize(("encoded", "stored"), ACCEPTED, ids=[s for _, s in ACCEPTED])
def test_accepted(client: httpx.Client, ws: str, encoded: str, stored: str) -> None:
    response = raw_put(client, ws, encoded)
    assert response.status_code == 204, response.text
    assert stored in listing(client, ws)


def test_length_limits_are_inclusive(client: httpx.Client, ws: str) -> None:
    longest = "/".join(["y" * 200] * 20) + "/" + "z" * 76
    assert len(longest.encode()) == 4096
    assert raw_put(client, ws, longest).status_code == 204
    assert longest in listing(client, ws)


def test_nfd_names_the_same_entry_as_nfc(client: httpx.Client, ws: str) -> None:
    nfc = unicodedata.normalize("NFC", "café")
    nfd = unicodedata.normalize("NFD", "café")
    assert nfc != nfd
    client.put(files_url(ws, nfd), content=b"one")
    client.put(files_url(ws, nfc), content=b"two")
    assert list(listing(client, ws)) == [nfc]
    assert client.get(files_url(ws, nfd)).content == b"two"


def test_dest_of_move_is_validated(client: httpx.Client, ws: str) -> None:
    client.put(files_url(ws, "a"), content=b"1")
    for dest in ["", "/x", "x/", "a/../b", "bad\x00", 7]:
        response = client.post(files_url(ws, "a"), json={"op": "move", "dest": dest})
        assert_error(response, 400, "invalid_parameter")
    assert list(listing(client, ws)) == ["a"]
