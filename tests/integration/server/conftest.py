"""Fixtures for the reference server's tests: one real server per module, fresh workspaces."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd.soak.harness import ServerProcess
from tests.support.postgres import ENGINES, database_for


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The database engine of the module's server: every server suite runs on both."""
    return request.param


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[ServerProcess]:
    """A full server shared by the tests of one module (each test uses its own workspace).

    On PostgreSQL the module gets a database of its own, dropped afterwards.
    """
    with (
        database_for(engine) as url,
        ServerProcess(tmp_path_factory.mktemp("server") / "data", database_url=url) as proc,
    ):
        yield proc


@pytest.fixture(scope="module")
def api_key(shared_server: ServerProcess) -> str:
    return shared_server.create_account(f"user-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def client(shared_server: ServerProcess, api_key: str) -> Iterator[httpx.Client]:
    with shared_server.client(api_key) as http:
        yield http


@pytest.fixture
def ws(client: httpx.Client) -> str:
    """A fresh, empty workspace of the module's account."""
    response = client.post("/api/v1/workspaces", json={"name": "test"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def files_url(ws: str, path: str = "") -> str:
    return f"/api/v1/workspaces/{ws}/files" + (f"/{path}" if path else "")


def listing(client: httpx.Client, ws: str) -> dict[str, dict]:
    response = client.get(files_url(ws))
    assert response.status_code == 200, response.text
    return {entry["path"]: entry for entry in response.json()["entries"]}


def put(client: httpx.Client, ws: str, path: str, data: bytes, **headers: str) -> httpx.Response:
    return client.put(files_url(ws, path), content=data, headers=headers)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["message"], str)
    return body


def first_column(server: ServerProcess, sql: str) -> set:
    """The first column of ``sql``'s rows, read straight from the server's database."""
    from sqlalchemy import create_engine, text

    from syncd.server.db import default_url, engine_url

    engine = create_engine(engine_url(server.database_url or default_url(server.data_dir)))
    try:
        with engine.connect() as conn:
            return {row[0] for row in conn.execute(text(sql))}
    finally:
        engine.dispose()


def data_dir_of(server: ServerProcess) -> Path:
    return server.data_dir
