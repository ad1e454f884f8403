"""Schemathesis against the reference server's own OpenAPI document.

No answer is a 5xx, every error carries the ErrorResponse body, and every answer matches
the schema. Half the generated cases use a real workspace id, so the file routes are
reached and not only their 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import checks

from syncd.protocol.batch import DeleteRecord, MkdirRecord, PutRecord
from syncd.protocol.records import MEDIA_TYPE, encode_stream
from syncd.soak.harness import ServerProcess

MAX_EXAMPLES = 12
# What the issue asks for: no 5xx, documented statuses and content types, bodies and
# headers that match the schema, and a 405 naming the allowed methods.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.unsupported_method,
]


def _record(path: str, data: bytes, kind: int) -> tuple[object, bytes]:
    if kind == 0:
        return PutRecord(path, len(data)), data
    return (DeleteRecord(path), b"") if kind == 1 else (MkdirRecord(path), b"")


_records = st.lists(
    st.tuples(
        st.sampled_from(["a.txt", "d/b", "x y", "caf\u00e9"]),
        st.binary(max_size=64),
        st.integers(0, 2),
    ).map(lambda t: _record(*t)),
    max_size=4,
    unique_by=lambda item: item[0].path,
).map(lambda items: b"".join(encode_stream(items)))
# E5 bodies: well-formed record streams, the same cut or extended, and random bytes.
schemathesis.openapi.media_type(
    MEDIA_TYPE,
    st.one_of(
        _records,
        st.tuples(_records, st.binary(max_size=16)).map(lambda t: t[0] + t[1]),
        _records.map(lambda body: body[: len(body) // 2]),
        st.binary(max_size=200),
    ),
)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, str]]:
    data = Path(tmp_path_factory.mktemp("fuzz")) / "server"
    with ServerProcess(data) as server:
        key = server.create_account("fuzz")
        with server.client(key) as http:
            workspace = http.post("/api/v1/workspaces", json={"name": "fuzz"}).json()["id"]
            http.put(f"/api/v1/workspaces/{workspace}/files/a.txt", content=b"hello")
        yield server, key, workspace


@pytest.fixture(scope="module")
def api_schema(running: tuple[ServerProcess, str, str]) -> schemathesis.BaseSchema:
    server, _key, _workspace = running
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_server_answers_match_the_schema(case, running) -> None:
    _server, key, workspace = running
    params = case.path_parameters or {}
    if "workspace_id" in params and hash(repr(case.query)) % 2 == 0:
        params["workspace_id"] = workspace
    response = case.call(headers={"Authorization": f"Bearer {key}"})
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= {"error", "message"}, body
        assert isinstance(body["error"], str) and isinstance(body["message"], str)
    case.validate_response(response, checks=CHECKS)
