"""End to end: a path that cannot sync is reported with its error's title and hint.

Against a base-only server with a small body limit: a file larger than one request may
carry, on a server without resumable uploads, is an ``ItemError`` (``TooLarge``) whose
hint says what the user can change; the sync reports it and syncs the rest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.errors import TooLarge
from syncd.soak.harness import ServerProcess
from tests.support.clients import SyncClient, create_workspace, remote_tree, write

HINT = "raise the server's body limit or enable its upload extension"


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[ServerProcess]:
    args = ["--base-only", "--max-body", "1000"]
    with ServerProcess(tmp_path / "server", extra_args=args) as proc:
        yield proc


def test_a_failed_item_shows_its_title_and_hint(small_server: ServerProcess, tmp_path: Path):
    key = small_server.create_account("alice")
    workspace = create_workspace(small_server, key)
    (tmp_path / "a").mkdir()
    a = SyncClient(small_server, key, workspace, tmp_path / "a", tmp_path / "state-a")
    write(a.folder / "small.txt", "fits")
    write(a.folder / "big.bin", b"x" * 4000)
    proc = a.sync(expect=1)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("could not sync big.bin"))
    assert f"could not sync big.bin: {TooLarge.title}: " in line, proc.stderr
    assert line.endswith(f"({HINT})"), line
    assert remote_tree(small_server, key, workspace).keys() == {"small.txt"}
    status = a.run("--json", command="status")
    assert status.returncode == 0, status.stderr
    (error,) = json.loads(status.stdout)["errors"]
    assert error["path"] == "big.bin"
    assert error["reason"].startswith(f"{TooLarge.title}: ") and HINT in error["reason"]
    text = a.run(command="status")
    assert text.returncode == 0, text.stderr
    shown = " ".join(text.stdout.split())  # the console wraps long lines
    assert "failed: big.bin: too large: " in shown and HINT in shown, text.stdout
