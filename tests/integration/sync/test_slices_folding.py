"""A full sync in slices on a disk that folds case: names that fold together, far apart
in path order, are planned in one slice, so the planner renames the server's one instead
of downloading it over the local one (issue 14).

The engine runs in-process against the real server so that it can be told its disk folds
case (this one does not, which lets the test see both names where a folding disk would
have merged them); the other client is the ``syncd sync`` subprocess.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest

from syncd.config import Settings
from syncd.planner import ops
from syncd.session import Session, open_session
from tests.support.clients import SyncClient, remote_tree, sync_settled, write

SLICE = re.compile(r"event=slice index=\d+ paths=\d+")
CONFLICT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d{6}")


@pytest.fixture
def mode() -> str:
    return "full"  # slices need the mirror of the change feed


@contextmanager
def folding(client: SyncClient, **changes: object) -> Iterator[Session]:
    """The client's folder and state, synced by an engine that believes its disk folds
    case, 20 changed paths a slice."""
    settings = Settings(
        server=client.server.url,
        workspace=client.workspace,
        dir=client.folder,
        api_key=client.api_key,
        state_dir=client.state_dir,
        slice_paths=20,
    )
    with open_session(replace(settings, **changes)) as session:  # type: ignore[arg-type]
        session.engine.folds_case = True
        yield session


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def plan_of(client: SyncClient, slice_paths: int, caplog: pytest.LogCaptureFixture) -> list[str]:
    """A dry run's ops (conflict times cut out), with ``slice_paths`` (0: unsliced)."""
    caplog.clear()
    with folding(client, dry_run=True) as session:
        session.engine.slice_paths = slice_paths
        report = session.engine.sync(dry_run=True)
    assert (len(SLICE.findall(caplog.text)) >= 2) == (slice_paths > 0)
    return sorted(CONFLICT_TIME.sub("T", ops.describe(op)) for op in report.planned)


def test_names_that_fold_together_far_apart_are_planned_in_one_slice(
    make_client, sync_server, account, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="syncd")
    a, b = make_client("a"), make_client("b")
    for i in range(60):
        write(a.folder / f"d{i % 6:02d}/f{i:03d}.txt", f"file {i}\n")
    write(a.folder / "README.txt", "the local readme\n")
    a.sync()
    b.sync()
    sync_settled(a)
    write(b.folder / "readme.txt", "the server's readme\n")  # README.txt < d00 < readme.txt
    write(b.folder / "D03/new.txt", "a folder named like d03\n")  # D03 < README.txt < d03
    b.sync()
    for i in range(0, 60, 2):  # enough changes for several slices
        write(a.folder / f"d{i % 6:02d}/f{i:03d}.txt", f"file {i}, edited on the disk\n")

    sliced = plan_of(a, 20, caplog)
    assert plan_of(a, 0, caplog) == sliced  # the same plan as the whole tree at once
    clashes = [line for line in sliced if "reason=NAME_CLASH" in line]
    assert any(line.startswith("op=MoveRemote path=readme.txt ") for line in clashes), sliced
    assert any(line.startswith("op=MoveRemote path=D03 ") for line in clashes), sliced

    caplog.clear()
    with folding(a) as session:
        report = session.engine.sync()
    assert len(SLICE.findall(caplog.text)) >= 2
    assert not report.failed
    logged = [r.getMessage() for r in caplog.records if r.name == "syncd.worker"]
    done = sorted(CONFLICT_TIME.sub("T", m) for m in logged if m.startswith("op="))
    assert done == sliced  # the real run did what its dry run printed

    local = a.tree()
    assert "readme.txt" not in local and not any(p.startswith("D03/") for p in local)
    assert local["README.txt"] == sha("the local readme\n")
    assert sha("the server's readme\n") in local.values()  # under its conflict name
    assert sha("a folder named like d03\n") in local.values()
    server = remote_tree(sync_server, *account)
    assert "readme.txt" not in server and "D03/new.txt" not in server
    assert sorted(server.values()) == sorted(local.values())  # nothing lost, converged
