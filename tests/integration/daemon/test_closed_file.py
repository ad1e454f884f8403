"""A file its writer closed goes at once: it arrives although the debounce is long.

The daemons run with a debounce far beyond the wait for the file, so the file can only
arrive through the close (IN_CLOSE_WRITE) path; the test checks the bytes, never a time.
"""

from __future__ import annotations

from pathlib import Path

from syncd.soak.harness import ServerProcess
from syncd.watcher.coalesce import BURST_PATHS
from tests.integration.daemon.daemons import FastDaemon, eventually, start_all, write
from tests.support.clients import create_workspace

LONG_DEBOUNCE = {"SYNCD_DEBOUNCE": "300"}  # ten times that is the max latency: never reached


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _closed_files_arrive(a: FastDaemon, b: FastDaemon) -> None:
    data = b"small and closed\n"
    write(a.folder / "notes" / "closed.txt", data)
    eventually(lambda: _holds(b.folder / "notes" / "closed.txt", data), what="closed.txt in b")
    write(b.folder / "notes" / "closed.txt", b"edited in b\n")
    eventually(
        lambda: _holds(a.folder / "notes" / "closed.txt", b"edited in b\n"),
        what="the edit back in a",
    )


def _with_notes(daemon: FastDaemon) -> FastDaemon:
    """The subfolder exists before the watch starts: a file written into a folder created
    after it may be seen by watchdog's scan of the new folder (a create, no close)."""
    (daemon.folder / "notes").mkdir()
    return daemon


def test_a_closed_small_file_arrives_in_the_other_folder(make_daemon):
    a, b = start_all(
        _with_notes(make_daemon("a", **LONG_DEBOUNCE)),
        _with_notes(make_daemon("b", **LONG_DEBOUNCE)),
    )
    _closed_files_arrive(a, b)


def test_closed_saves_in_quick_succession_each_arrive(make_daemon):
    """More saves in a row than a burst holds, each written once the previous one
    arrived: no burst, so each goes on its close, not after the 300 s debounce."""
    a, b = start_all(
        _with_notes(make_daemon("a", **LONG_DEBOUNCE)),
        _with_notes(make_daemon("b", **LONG_DEBOUNCE)),
    )
    for i in range(2 * BURST_PATHS + 2):
        name, data = f"notes/save{i % 5}.txt", f"save {i}\n".encode()
        write(a.folder / name, data)
        eventually(lambda name=name, data=data: _holds(b.folder / name, data), what=name)


def test_a_closed_small_file_arrives_over_a_base_only_server(tmp_path):
    """Without a feed the poll's full pass finds the file as well: this checks that the
    close path leaves the base-only flow whole, both ways."""
    server = ServerProcess(tmp_path / "base-data", extra_args=["--base-only"]).start()
    try:
        key = server.create_account("bob")
        workspace = create_workspace(server, key)
        daemons = [
            FastDaemon(server, key, workspace, tmp_path / n, tmp_path / f"s-{n}", LONG_DEBOUNCE)
            for n in ("x", "y")
        ]
        for d in daemons:
            d.folder.mkdir()
            _with_notes(d)
        x, y = start_all(*daemons)
        _closed_files_arrive(x, y)
        for d in daemons:
            assert d.stop() == 0
    finally:
        server.stop()
