"""A ``--base-only`` server: the public service's behaviour, every extension switched off."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import assert_error, files_url, put


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data = tmp_path_factory.mktemp("base") / "data"
    with ServerProcess(data, extra_args=["--base-only"]) as proc:
        key = proc.create_account("base")
        with proc.client(key) as http:
            yield http


def test_capabilities_and_extension_routes_are_404(base: httpx.Client) -> None:
    assert_error(base.get("/api/v1/capabilities"), 404, "not_found")
    ws = base.post("/api/v1/workspaces").json()["id"]
    assert_error(base.get(f"/api/v1/workspaces/{ws}/changes?from_revision=0"), 404, "not_found")
    upload = base.post(f"/api/v1/workspaces/{ws}/uploads", json={"path": "a", "size": 1})
    assert_error(upload, 404, "not_found")
    records = {"Content-Type": "application/vnd.syncd.records"}
    body = b'{"op": "mkdir", "path": "d"}\n'
    batch = base.post(f"/api/v1/workspaces/{ws}/batch", content=body, headers=records)
    assert_error(batch, 404, "not_found")
    read = base.post(f"/api/v1/workspaces/{ws}/batch-read", json={"paths": ["d"]})
    assert_error(read, 404, "not_found")
    assert base.get(files_url(ws)).json()["entries"] == []  # the batch was not applied


def test_entries_have_exactly_the_base_fields(base: httpx.Client) -> None:
    ws = base.post("/api/v1/workspaces").json()["id"]
    put(base, ws, "d/f.txt", b"hello")
    entries = base.get(files_url(ws)).json()["entries"]
    assert [set(e) for e in entries] == [{"path", "type", "size", "modified_time"}] * 2
    assert entries[0] == {**entries[0], "path": "d", "type": "directory", "size": None}


def test_no_etag_no_range_and_conditions_ignored(base: httpx.Client) -> None:
    ws = base.post("/api/v1/workspaces").json()["id"]
    put(base, ws, "f", b"0123456789")
    got = base.get(files_url(ws, "f"), headers={"Range": "bytes=5-"})
    assert got.status_code == 200 and got.content == b"0123456789"
    assert "etag" not in got.headers
    assert put(base, ws, "f", b"new", **{"If-Match": '"999"'}).status_code == 204
    assert put(base, ws, "f", b"newer", **{"If-None-Match": "*"}).status_code == 204
    assert base.get(files_url(ws, "f")).content == b"newer"


def test_openapi_lists_no_extensions(base: httpx.Client) -> None:
    doc = base.get("/openapi.json").json()
    assert "/api/v1/workspaces/{workspace_id}/files/{file_path}" in doc["paths"]
    assert not any(
        word in path for path in doc["paths"] for word in ("changes", "uploads", "batch")
    )
