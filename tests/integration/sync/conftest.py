"""Fixtures for end-to-end sync tests: a real server (full, then base-only) and clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncd.soak.harness import ServerProcess
from tests.support.clients import SyncClient, create_workspace
from tests.support.postgres import database_for


@pytest.fixture(params=["full", "base-only"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def sync_server(tmp_path: Path, mode: str) -> Iterator[ServerProcess]:
    """``mode`` "postgresql" (modules that ask for it) is the full server on PostgreSQL."""
    extra = ["--base-only"] if mode == "base-only" else []
    with (
        database_for("postgresql" if mode == "postgresql" else "sqlite") as url,
        ServerProcess(tmp_path / "server", extra_args=extra, database_url=url) as proc,
    ):
        yield proc


@pytest.fixture
def account(sync_server: ServerProcess) -> tuple[str, str]:
    """(api key, workspace id) of a fresh account with one workspace."""
    key = sync_server.create_account("alice")
    return key, create_workspace(sync_server, key)


@pytest.fixture
def make_client(
    tmp_path: Path, sync_server: ServerProcess, account: tuple[str, str]
) -> Callable[[str], SyncClient]:
    key, workspace = account

    def make(name: str) -> SyncClient:
        (tmp_path / name).mkdir(exist_ok=True)
        return SyncClient(
            server=sync_server,
            api_key=key,
            workspace=workspace,
            folder=tmp_path / name,
            state_dir=tmp_path / f"state-{name}",
        )

    return make
