"""Shared fixtures: a real reference server per test module (full and base-only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.soak.harness import ServerProcess
from tests.support.postgres import fresh_database


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh full-protocol server on a loopback port, with its own data directory."""
    with ServerProcess(tmp_path / "server-data") as proc:
        yield proc


@pytest.fixture
def base_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A fresh server with every extension switched off (``--base-only``)."""
    with ServerProcess(tmp_path / "server-data-base", extra_args=["--base-only"]) as proc:
        yield proc


@pytest.fixture
def pg_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A full server whose metadata lives in a fresh PostgreSQL database (skips without one)."""
    with (
        fresh_database() as url,
        ServerProcess(tmp_path / "server-data-pg", database_url=url) as proc,
    ):
        yield proc
