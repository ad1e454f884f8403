"""Batches broken by faults: resets mid-request and mid-answer, 503, a server killed mid-batch.

A client whose batch broke never assumes that it did or did not apply: it lets the
transport retry what is safe to retry and re-plans the rest from what the server shows.
Every case must converge with nothing lost and nothing torn: afterwards both clients and
the server hold exactly the files written, no conflict copy appears (a batch mistaken for
someone else's write would make one), and a second sync of either client does nothing.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from syncd.local.ignore import is_our_temp_file
from syncd.soak.harness import ServerProcess
from syncd.soak.proxy import Fault, FaultProxy
from tests.support.clients import SyncClient, create_workspace, remote_tree, sync_settled, write

BATCH = r"/batch$"
READ = r"/batch-read$"
NOTHING = "uploaded 0, downloaded 0, moved 0, deleted 0, conflicts 0, failed 0"


@dataclass
class World:
    """A full server, a fault proxy before it, and two clients: ``a`` writes, ``b`` reads.

    Every sync goes through the proxy (the state of a folder belongs to one server URL);
    it injects faults only while the test has armed some. ``expected`` is path -> sha256
    of every file as last written by the test.
    """

    tmp: Path
    server: ServerProcess
    proxy: FaultProxy
    key: str
    workspace: str
    expected: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(default_factory=lambda: random.Random(5))

    def client(self, name: str) -> SyncClient:
        (self.tmp / name).mkdir(exist_ok=True)
        return SyncClient(
            server=SimpleNamespace(url=self.proxy.url),  # type: ignore[arg-type]
            api_key=self.key,
            workspace=self.workspace,
            folder=self.tmp / name,
            state_dir=self.tmp / f"state-{name}",
        )

    def write(self, rel: str) -> None:
        data = self.rng.randbytes(self.rng.randrange(1, 40_000))
        write(self.tmp / "a" / rel, data)
        self.expected[rel] = hashlib.sha256(data).hexdigest()

    def delete(self, rel: str) -> None:
        (self.tmp / "a" / rel).unlink()
        del self.expected[rel]

    def change(self) -> None:
        """Overwrites, deletes and new files in new folders: every kind of record."""
        paths = sorted(self.expected)
        for rel in paths[:20]:
            self.write(rel)
        for rel in paths[20:30]:
            self.delete(rel)
        for n in range(60):
            self.write(f"new/n{n % 5}/g{n:03}.bin")

    def converged(self) -> None:
        self.proxy.clear()
        a, b = self.client("a"), self.client("b")
        for client in (a, b):  # a finishes what the fault broke, b takes it all
            client.sync()
        assert a.tree() == self.expected, "a lost or tore a file"
        assert b.tree() == self.expected, "b lost or tore a file"
        assert remote_tree(self.server, self.key, self.workspace) == self.expected
        for client in (a, b):
            again = sync_settled(client)
            assert NOTHING in again.stdout and " op=" not in again.stderr, again.stderr
            temps = [n for _d, _s, names in os.walk(client.folder) for n in names]
            assert not [n for n in temps if is_our_temp_file(n)]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("SYNCD_TIMEOUT", "3")  # a stalled answer is given up on quickly
    with ServerProcess(tmp_path / "server") as server:
        key = server.create_account("alice")
        workspace = create_workspace(server, key)
        with FaultProxy(server.url, seed=3) as proxy:
            w = World(tmp_path, server, proxy, key, workspace)
            for n in range(80):
                w.write(f"s/d{n % 4}/f{n:03}.txt")
            w.client("a").sync()
            w.client("b").sync()
            yield w


def kill_when(world: World, seen: Callable[[], bool]) -> threading.Thread:
    """SIGKILL the server once ``seen()`` holds (polled, with a deadline), then start it
    again on the same port."""

    def run() -> None:
        deadline = time.monotonic() + 60
        while not seen():
            assert time.monotonic() < deadline, "the batch never reached the proxy"
            time.sleep(0.001)
        world.server.stop(signal.SIGKILL)
        world.server.start()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def posts(world: World, route: str, mark: int = 0) -> list:
    """The proxy's log entries of POSTs to ``route`` after ``mark``."""
    log = list(world.proxy.log)[mark:]
    return [e for e in log if e.method == "POST" and e.target.endswith(route)]


FAULTS = {
    "reset mid-request": [Fault("reset_request", method="POST", path=BATCH, after_bytes=30_000)],
    "reset mid-answer": [Fault("reset_response", method="POST", path=BATCH, after_bytes=10)],
    "every answer lost": [Fault("reset_response", method="POST", path=BATCH, times=None)],
    "503": [Fault("status", method="POST", path=BATCH, status=503, times=3)],
}


@pytest.mark.parametrize("case", sorted(FAULTS))
def test_a_broken_batch_write_converges(world: World, case: str, monkeypatch) -> None:
    if case == "every answer lost":
        monkeypatch.setenv("SYNCD_MAX_RETRIES", "1")  # the transport gives up: UNKNOWN
    world.change()
    mark = len(world.proxy.log)
    for fault in FAULTS[case]:
        world.proxy.add(fault)
    proc = world.client("a").sync(expect=None)
    assert proc.returncode in (0, 1, 4), proc.stderr
    assert "Traceback" not in proc.stderr
    assert [e.fault for e in posts(world, "/batch", mark) if e.fault], "no fault was injected"
    if case == "every answer lost":  # re-planned from the feed, never sent blindly again
        assert proc.returncode == 0, proc.stderr
        assert "status=replan" in proc.stderr
    world.converged()


@pytest.mark.parametrize("moment", ["mid-request", "after the commit"])
def test_a_server_killed_mid_batch_write_converges(world: World, moment: str, monkeypatch):
    world.change()
    mark = len(world.proxy.log)
    if moment == "mid-request":
        monkeypatch.setenv("SYNCD_BANDWIDTH_LIMIT", "1MB")  # the bodies take a second or two
        killer = kill_when(world, lambda: bool(posts(world, "/batch", mark)))
    else:  # the answer is held after its first byte: the batch committed, no answer comes
        world.proxy.add(Fault("stall", method="POST", path=BATCH, after_bytes=1))
        held = lambda: any(e.status for e in posts(world, "/batch", mark))  # noqa: E731
        killer = kill_when(world, held)
    proc = world.client("a").sync(expect=None)
    killer.join(60)
    assert not killer.is_alive()
    assert proc.returncode in (0, 1, 4), proc.stderr
    assert "Traceback" not in proc.stderr
    batches = posts(world, "/batch", mark)
    if moment == "mid-request":
        assert any(e.status in (None, 502) for e in batches), "no batch was cut by the kill"
    else:
        assert batches[0].fault == "stall" and batches[0].status == 200  # it had committed
    assert len(batches) >= 2  # what the kill broke was sent again (or re-planned) after
    monkeypatch.delenv("SYNCD_BANDWIDTH_LIMIT", raising=False)
    world.converged()


READ_FAULTS = {
    "reset mid-answer": Fault("reset_response", method="POST", path=READ, after_bytes=50_000),
    "truncated answer": Fault("truncate", method="POST", path=READ, after_bytes=20_000, times=3),
    "503": Fault("status", method="POST", path=READ, status=503, times=2),
}


@pytest.mark.parametrize("case", sorted(READ_FAULTS))
def test_a_broken_batch_read_converges(world: World, case: str) -> None:
    world.change()
    world.client("a").sync()
    mark = len(world.proxy.log)
    world.proxy.add(READ_FAULTS[case])
    proc = world.client("b").sync(expect=None)
    assert proc.returncode in (0, 1, 4), proc.stderr
    assert "Traceback" not in proc.stderr
    assert [e.fault for e in posts(world, "/batch-read", mark) if e.fault], "no fault injected"
    world.converged()


def test_a_server_killed_mid_batch_read_converges(world: World) -> None:
    world.change()
    world.client("a").sync()
    mark = len(world.proxy.log)
    world.proxy.add(Fault("stall", method="POST", path=READ, after_bytes=30_000))
    killer = kill_when(world, lambda: any(e.status for e in posts(world, "/batch-read", mark)))
    proc = world.client("b").sync(expect=None)
    killer.join(60)
    assert not killer.is_alive()
    reads = posts(world, "/batch-read", mark)
    assert reads[0].fault == "stall" and len(reads) >= 2  # what was left was asked again
    assert proc.returncode in (0, 1, 4), proc.stderr
    assert "Traceback" not in proc.stderr
    world.converged()
