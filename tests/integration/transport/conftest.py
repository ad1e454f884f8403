"""Fixtures of the transport tests: real servers shared per module, a proxy per test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syncd.soak.harness import ServerProcess
from syncd.soak.proxy import FaultProxy
from syncd.transport import Client, TransportSettings
from tests.integration.transport.helpers import MiB


@dataclass
class Live:
    """A running server and an API key of one account on it."""

    server: ServerProcess
    key: str

    def client(self, url: str | None = None, **overrides: Any) -> Client:
        """A Client with fast backoff, so retry tests take milliseconds, not seconds."""
        knobs: dict[str, Any] = {
            "timeout": 10.0,
            "max_retries": 5,
            "deadline": 60.0,
            "backoff_initial": 0.01,
            "backoff_max": 0.05,
            "chunk_size": 256 * 1024,
            "upload_threshold": 512 * 1024,
        }
        knobs.update(overrides)
        store = knobs.pop("upload_sessions", None)
        settings = TransportSettings(url or self.server.url, self.key, **knobs)
        return Client(settings, upload_sessions=store)


def _live(base: Path, tag: str, extra: list[str]) -> Iterator[Live]:
    with ServerProcess(base / tag, extra_args=extra) as server:
        yield Live(server, server.create_account(tag))


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A full-protocol server shared by one test module."""
    yield from _live(tmp_path_factory.mktemp("full"), "alice", [])


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A ``--base-only`` server with a 2 MiB body limit, shared by one test module."""
    yield from _live(
        tmp_path_factory.mktemp("base"), "bob", ["--base-only", "--max-body", str(2 * MiB)]
    )


@pytest.fixture
def proxy(full: Live) -> Iterator[FaultProxy]:
    """A seeded fault proxy in front of the shared full server."""
    with FaultProxy(upstream=full.server.url, seed=1).start() as fault_proxy:
        yield fault_proxy


@pytest.fixture
def workspace(full: Live) -> str:
    with full.client() as client:
        return client.workspaces.create("t").id
