"""Answers no real server produces (malformed JSON, wrong shapes), through httpx.MockTransport."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from syncd import errors
from syncd.transport import Client, TransportSettings

KEY = "sk-unit-secret"
Handler = Callable[[httpx.Request], httpx.Response]


def client_with(handler: Handler) -> Client:
    client = Client(
        TransportSettings("http://server.test", KEY, backoff_initial=0.001, max_retries=2)
    )
    client.connection.http = httpx.Client(
        base_url="http://server.test",
        transport=httpx.MockTransport(handler),
        headers=dict(client.connection.http.headers),
    )
    return client


def route(answers: dict[str, httpx.Response]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        for suffix, response in answers.items():
            if request.url.path.endswith(suffix):
                return response
        return httpx.Response(404, json={"error": "not_found", "message": "no route"})

    return handler


# A listing, a feed page or the capabilities are what a whole run is planned on: when one
# breaks the protocol the run stops (ServerProtocolError, exit 4), it is no item error.


def test_listing_that_is_not_json() -> None:
    with (
        client_with(route({"/files": httpx.Response(200, text="<html>")})) as client,
        pytest.raises(errors.ServerProtocolError, match="not valid JSON") as info,
    ):
        client.files.list("w")
    assert info.value.exit_code == 4


def test_listing_of_the_wrong_shape() -> None:
    with (
        client_with(route({"/files": httpx.Response(200, json={"files": []})})) as client,
        pytest.raises(errors.ServerProtocolError, match="entries"),
    ):
        client.files.list("w")


def test_json_nested_too_deeply_is_a_protocol_error_not_a_recursion_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    error = '{"error": ' * 100_000 + "1" + "}" * 100_000
    answers = {
        "/files": httpx.Response(200, text=deep),
        "/workspaces": httpx.Response(500, text=error),
    }
    with client_with(route(answers)) as client:
        with pytest.raises(errors.ServerProtocolError, match="nested too deeply"):
            client.files.list("w")
        with pytest.raises(errors.ServerUnreachable, match="500"):
            client.workspaces.list()


def test_capabilities_of_the_wrong_shape() -> None:
    answers = {"/capabilities": httpx.Response(200, json=["changes"])}
    with client_with(route(answers)) as client, pytest.raises(errors.ServerProtocolError):
        client.capabilities  # noqa: B018


def test_capabilities_404_is_base_only_and_asked_once() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(404, json={"error": "not_found", "message": "x"})

    with client_with(handler) as client:
        assert client.capabilities.is_base_only and client.capabilities.is_base_only
    assert calls == ["/api/v1/capabilities"]


def test_feed_page_of_the_wrong_shape() -> None:
    caps = {
        "changes": True,
        "uploads": True,
        "conditional": True,
        "hashes": "sha256",
        "max_body": 10,
    }
    answers = {
        "/capabilities": httpx.Response(200, json=caps),
        "/changes": httpx.Response(
            200,
            json={
                "end_revision": "3",
                "created": [],
                "updated": [],
                "deleted": [],
                "has_more": False,
            },
        ),
    }
    with (
        client_with(route(answers)) as client,
        pytest.raises(errors.ServerProtocolError, match="end_revision"),
    ):
        client.changes.page("w", 0)


def test_offset_mismatch_without_an_offset(tmp_path: Path) -> None:
    caps = {
        "changes": True,
        "uploads": True,
        "conditional": True,
        "hashes": "sha256",
        "max_body": 10**9,
    }
    session = {
        "upload_id": "u",
        "offset": 0,
        "chunk_size": 1024,
        "expires_time": "2030-01-01T00:00:00Z",
    }
    answers = {
        "/capabilities": httpx.Response(200, json=caps),
        "/uploads": httpx.Response(201, json=session),
        "/uploads/u": httpx.Response(409, json={"error": "offset_mismatch", "message": "x"}),
    }
    source = tmp_path / "f"
    source.write_bytes(b"x" * (9 * 1024 * 1024))
    with (
        client_with(route(answers)) as client,
        pytest.raises(errors.ProtocolViolation, match="offset"),
    ):
        client.files.upload("w", "f", source)


def test_repr_and_messages_never_carry_the_key() -> None:
    answers = {"/files": httpx.Response(400, json={"error": "invalid_parameter", "message": KEY})}
    with client_with(route(answers)) as client:
        assert KEY not in repr(client) and KEY not in repr(client.settings)
        with pytest.raises(errors.InvalidParameter) as info:
            client.files.list("w")
    assert KEY not in str(info.value)


def test_upload_offset_that_never_advances_is_a_violation(tmp_path: Path) -> None:
    caps = {"changes": True, "uploads": True, "conditional": True, "hashes": "sha256"}
    session = {
        "upload_id": "u",
        "offset": 0,
        "chunk_size": 1024 * 1024,
        "expires_time": "2030-01-01T00:00:00Z",
    }
    chunks: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/capabilities"):
            return httpx.Response(200, json=caps)
        if path.endswith("/uploads") and request.method == "POST":
            return httpx.Response(201, json=session)
        if path.endswith("/uploads/u") and request.method == "PUT":
            chunks.append(request.url.params["offset"])
            if len(chunks) > 50:  # an endless loop, cut short so the test ends
                return httpx.Response(500, json={"error": "internal", "message": "x"})
            return httpx.Response(200, json={"offset": 1024 * 1024})  # never past 1 MiB
        return httpx.Response(204)

    source = tmp_path / "f"
    source.write_bytes(b"x" * (9 * 1024 * 1024))
    with (
        client_with(handler) as client,
        pytest.raises(errors.ProtocolViolation, match="offset stays at 1048576"),
    ):
        client.files.upload("w", "f", source)
    assert len(chunks) <= 5, chunks
