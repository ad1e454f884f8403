"""A scoped daemon pass reads the base and remote-mirror rows under its dirty paths, never
a whole table.

In-process, against the module's real server: the pass is the one ``syncd run`` makes
after watcher events (``run_scoped``), on a real folder and a real state database.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from syncd.config import Settings
from syncd.daemon.steps import run_full, run_scoped
from syncd.planner.trees import BaseNode, RemoteNode
from syncd.session import Session, open_session
from syncd.soak.harness import ServerProcess
from syncd.state.store import Store
from tests.integration.daemon.daemons import write
from tests.support.clients import local_tree, remote_tree

# A read of the base table that no WHERE (or LIMIT) narrows.
WHOLE_BASE = re.compile(r"\bFROM base\b(?!.*\b(?:WHERE|LIMIT)\b)", re.S)
# A read of mirror rows that no path narrows (the file count returns a number, not rows).
WHOLE_REMOTE = re.compile(
    r"^\s*SELECT\b(?!\s+count\(\*\)).*\bFROM remote\b(?!.*\bWHERE path\b)", re.S
)


def is_under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p + "/") for p in prefixes)


@contextlib.contextmanager
def indexed_session(
    folder: Path, state_dir: Path, server: ServerProcess, account: tuple[str, str]
) -> Iterator[Session]:
    """A session over 4 folders of 10 files each, synced and with the feed's echoes in."""
    key, workspace = account
    for d in range(4):
        for f in range(10):
            write(folder / f"d{d}" / f"f{f}.txt", f"{d}/{f}")
    settings = Settings(
        server=server.url, workspace=workspace, dir=folder, api_key=key, state_dir=state_dir
    )
    with open_session(settings) as session:
        run_full(session, set())
        run_full(session, set())  # takes in the feed's echoes of the uploads
        yield session


def trace_sql(store: Store) -> list[str]:
    """Every SQL statement the store runs from now on (its connections are renewed)."""
    statements: list[str] = []
    store.trace_sql(statements.append)
    return statements


def test_a_scoped_pass_reads_only_the_base_under_its_dirty_paths(
    tmp_path: Path,
    server: ServerProcess,
    account: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, workspace = account
    folder = tmp_path / "folder"
    with indexed_session(folder, tmp_path / "state", server, account) as session:
        store = session.store
        assert store.base_count() == 44  # 4 folders, 40 files

        reads: list[tuple[frozenset[str] | None, dict[str, BaseNode]]] = []
        read_base = store.base

        def base(prefixes: Iterable[str] | None = None) -> dict[str, BaseNode]:
            rows = read_base(prefixes)
            reads.append((None if prefixes is None else frozenset(prefixes), rows))
            return rows

        monkeypatch.setattr(store, "base", base)
        statements = trace_sql(store)

        write(folder / "d0" / "f0.txt", "edited")
        os.rename(folder / "d1" / "f1.txt", folder / "d2" / "moved.txt")  # same inode
        (folder / "d3" / "f3.txt").unlink()
        dirty = {"d0/f0.txt", "d1/f1.txt", "d2/moved.txt", "d3/f3.txt"}
        result = run_scoped(session, dirty)

    done = {(type(o.op).__name__, o.path) for r in result.reports for o in r.outcomes}
    assert {("Upload", "d0/f0.txt"), ("MoveRemote", "d1/f1.txt")} <= done
    assert ("DeleteRemote", "d3/f3.txt") in done
    assert not result.failed
    assert remote_tree(server, key, workspace) == local_tree(folder)

    assert reads, "the pass read no base at all"
    for prefixes, rows in reads:
        assert prefixes is not None, "a scoped pass read the whole base"
        assert all(is_under(p, prefixes) for p in rows), (prefixes, sorted(rows))
    assert sum(len(rows) for _, rows in reads) <= len(dirty)  # of 44 rows
    assert any("FROM base" in s for s in statements)  # the trace saw the reads
    whole = [s for s in statements if WHOLE_BASE.search(s)]
    assert not whole, whole


def test_a_scoped_pass_reads_only_the_mirror_under_its_scope_and_follows_the_rest(
    tmp_path: Path,
    server: ServerProcess,
    account: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, workspace = account
    folder = tmp_path / "folder"
    with indexed_session(folder, tmp_path / "state", server, account) as session:
        store = session.store
        assert len(store.remote.tree()) == 44  # 4 folders, 40 files

        reads: list[tuple[frozenset[str] | None, dict[str, RemoteNode]]] = []
        read_remote = store.remote.tree

        def mirror(prefixes: Iterable[str] | None = None) -> dict[str, RemoteNode]:
            rows = read_remote(prefixes)
            reads.append((None if prefixes is None else frozenset(prefixes), rows))
            return rows

        monkeypatch.setattr(store.remote, "tree", mirror)
        statements = trace_sql(store)

        # A change on the server outside the scope: the feed brings it during the first
        # pass, the mirror takes it in, and the pass follows it with a scope of its own.
        with server.client(key) as http:
            put = http.put(f"/api/v1/workspaces/{workspace}/files/d3/remote.txt", content=b"r")
            assert put.status_code in (200, 201, 204), put.text
        write(folder / "d0" / "f0.txt", "edited")
        (folder / "d1" / "f1.txt").unlink()
        dirty = {"d0/f0.txt", "d1/f1.txt"}
        result = run_scoped(session, dirty)

    done = {(type(o.op).__name__, o.path) for r in result.reports for o in r.outcomes}
    assert {("Upload", "d0/f0.txt"), ("DeleteRemote", "d1/f1.txt")} <= done
    assert ("Download", "d3/remote.txt") in done
    assert "d3/remote.txt" in result.covered
    assert not result.failed
    assert remote_tree(server, key, workspace) == local_tree(folder)

    assert reads, "the pass read no mirror at all"
    for prefixes, rows in reads:
        assert prefixes is not None, "a scoped pass read the whole mirror"
        assert all(is_under(p, prefixes) for p in rows), (prefixes, sorted(rows))
    assert sum(len(rows) for _, rows in reads) <= 3  # of 45 rows
    assert any("FROM remote WHERE path" in s for s in statements)  # the trace saw the reads
    whole = [s for s in statements if WHOLE_REMOTE.search(s)]
    assert not whole, whole
