"""Fixtures for daemon tests: one real server per module, a fresh workspace per test.

Starting a server and creating an account cost seconds; a workspace costs one request.
Each test gets its own workspace (so nothing one test does is seen by another), and a
test that restarts the server leaves it running on the same port.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncd.soak.harness import ServerProcess, create_workspace, free_port
from tests.integration.daemon.daemons import FastDaemon


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets ``PROTOCOLS = ("full", "base-only")`` runs on both servers."""
    protocols = getattr(metafunc.module, "PROTOCOLS", None)
    if protocols and "server" in metafunc.fixturenames:
        metafunc.parametrize("server", protocols, indirect=True, scope="module")


@pytest.fixture(scope="module")
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server shared by the tests of one module: full protocol unless parametrised."""
    extra = ["--base-only"] if getattr(request, "param", "full") == "base-only" else []
    with ServerProcess(tmp_path_factory.mktemp("daemon-server"), extra_args=extra) as proc:
        yield proc


@pytest.fixture(scope="module")
def api_key(server: ServerProcess) -> str:
    return server.create_account("alice")


@pytest.fixture
def account(server: ServerProcess, api_key: str) -> tuple[str, str]:
    """(api key, workspace id): a fresh workspace for this test alone."""
    if server.proc is None:  # a previous test stopped it and failed before restarting
        server.start()
    return api_key, create_workspace(server, api_key)


@pytest.fixture
def make_daemon(
    tmp_path: Path, server: ServerProcess, account: tuple[str, str]
) -> Iterator[Callable[..., FastDaemon]]:
    """Build (not start) a daemon on ``tmp_path/NAME``; every one is stopped at the end."""
    made: list[FastDaemon] = []
    key, workspace = account

    def make(name: str, **extra_env: str) -> FastDaemon:
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)
        daemon = FastDaemon(
            server=server,
            api_key=key,
            workspace=workspace,
            folder=folder,
            state_dir=tmp_path / f"state-{name}",
            extra_env=dict(extra_env),
        )
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        daemon.stop()
        print(f"--- log of the daemon on {daemon.folder.name}:\n" + "\n".join(daemon.lines))


@pytest.fixture
def unused_url() -> str:
    """A loopback URL where nothing listens (the port was free a moment ago)."""
    return f"http://127.0.0.1:{free_port()}"
