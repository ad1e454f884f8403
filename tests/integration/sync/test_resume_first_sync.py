"""A first sync killed half way resumes: the rest goes up, nothing twice, nothing re-hashed.

Issue 14's promise at small scale: 3,000 files in batches of 100 (the batch extension),
one batch in flight at a time, each held back 0.05 s by the fault proxy, so the server
can be seen half full; ``syncd sync`` is killed with SIGKILL once the server holds some
but not all files.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from syncd.soak.faults import Fault
from syncd.soak.harness import SYNCD, ServerProcess, client_argv, create_workspace, wait_until
from syncd.soak.proxy import FaultProxy
from tests.support.clients import server_files, settled_files, write

FILES = 3000
UPLOAD = re.compile(r"op=Upload path=(\S+)")


@pytest.fixture
def batch_server(tmp_path: Path):
    with ServerProcess(tmp_path / "server", extra_args=["--batch-max-items", "100"]) as proc:
        yield proc


def debug(argv: list[str]) -> list[str]:
    """``syncd --debug ...``: the scan's ``event=hashed`` line is a debug line."""
    return [*SYNCD, "--debug", *argv[len(SYNCD) :]]


def test_a_killed_first_sync_uploads_only_the_rest_and_hashes_nothing_again(
    tmp_path: Path, batch_server: ServerProcess, request: pytest.FixtureRequest
) -> None:
    key = batch_server.create_account("alice")
    workspace = create_workspace(batch_server, key)
    folder, state = tmp_path / "a", tmp_path / "state-a"
    paths = {f"d{i % 60:02d}/f{i:04d}.txt" for i in range(FILES)}
    for rel in paths:
        write(folder / rel, f"file {rel}\n")
    env = {**os.environ, "SYNCD_API_KEY": key, "PYTHONUNBUFFERED": "1", "SYNCD_TRANSFERS": "1"}
    log_path = tmp_path / "first.log"
    proxy = FaultProxy(batch_server.url, seed=14).start()
    request.addfinalizer(proxy.stop)
    proxy.add(Fault("stall", method="POST", path=r"/batch$", times=None, delay=0.05))
    with open(log_path, "w") as log_file:  # a file, not a pipe: the log never blocks
        first = subprocess.Popen(
            debug(client_argv("sync", proxy.url, workspace, folder, state)),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        try:
            half = wait_until(
                lambda: 0 < len(now := server_files(batch_server, key, workspace)) < FILES and now,
                timeout=120,
                interval=0.01,
            )
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(30)
    first_log = log_path.read_text()
    assert half, f"the server never held some but not all files:\n{first_log[-3000:]}"
    assert first.returncode == -signal.SIGKILL
    hashed = sum(int(n) for n in re.findall(r"event=hashed files=(\d+)", first_log))
    assert hashed == FILES  # the killed run hashed every file (in one slice or several)
    at_kill = settled_files(batch_server, key, workspace)  # in-flight batches may land
    assert 0 < len(at_kill) < FILES

    proxy.clear()  # the same address as before: the state is kept per server address
    again = subprocess.run(
        debug(client_argv("sync", proxy.url, workspace, folder, state)),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    uploaded = set(UPLOAD.findall(again.stderr))
    assert uploaded == paths - at_kill.keys()  # the rest, and only the rest
    assert "event=hashed" not in again.stderr  # every hash came from the cache
    after = server_files(batch_server, key, workspace)
    assert after.keys() == paths
    assert {p: after[p] for p in at_kill} == at_kill  # what was up was not sent again
