"""End to end: small files travel in batches (E5, E6) where the server has them.

Against the full server a first sync of many small files takes a few batch requests
instead of one request per file; against a base-only server it is one request per
file, as before. Either way the clients converge and conflicts, deletes and the trash
behave as they do for single requests.
"""

from __future__ import annotations

import os
import re

import pytest

from syncd.local.trash import Trash
from tests.support.clients import SyncClient, remote_tree, sync_settled, write

NOTHING = "uploaded 0, downloaded 0, moved 0, deleted 0, conflicts 0, failed 0"
FILES = 240
MiB = 1 << 20


def requests(server, mark: int, method: str, pattern: str) -> list[str]:
    """Access-log lines after ``mark`` of one method whose route template matches."""
    found = []
    for line in list(server.stderr_lines)[mark:]:
        target = re.search(rf" method={method} route=(\S*)", line)
        if target and re.search(pattern, target.group(1)):
            found.append(line)
    return found


FILE = r"/files/"  # one file's PUT, GET, DELETE or POST (mkdir)
BATCH = r"/batch$"
READ = r"/batch-read$"


def small_tree(client: SyncClient, count: int = FILES) -> None:
    for n in range(count):
        write(client.folder / f"d{n % 6}/sub{n % 3}/f{n:04}.txt", f"file {n}\n" * (n % 50 + 1))


def assert_noop(client: SyncClient) -> None:
    again = sync_settled(client)
    assert NOTHING in again.stdout, again.stdout
    assert " op=" not in again.stderr, again.stderr


def trash_of(client: SyncClient) -> Trash:
    found = [p for p in client.state_dir.rglob("*.trash") if p.is_dir()]
    assert len(found) == 1, found
    return Trash(found[0])


def test_a_first_sync_of_many_small_files_takes_few_requests(
    make_client, sync_server, account, mode
):
    a, b = make_client("a"), make_client("b")
    small_tree(a)
    write(a.folder / "d0/large.bin", os.urandom(2 * MiB))  # above the batch threshold
    mark = len(sync_server.stderr_lines)
    a.sync()
    puts = requests(sync_server, mark, "PUT", FILE)
    batches = requests(sync_server, mark, "POST", BATCH)
    if mode == "full":
        assert len(puts) == 1 and f" bytes_in={2 * MiB} " in puts[0]  # large.bin
        assert 1 <= len(batches) <= 12, len(batches)
        assert requests(sync_server, mark, "POST", FILE) == []  # folders went in batches too
    else:
        assert len(puts) == FILES + 1 and batches == []
    mark = len(sync_server.stderr_lines)
    b.sync()
    gets = requests(sync_server, mark, "GET", FILE)
    reads = requests(sync_server, mark, "POST", READ)
    if mode == "full":
        assert len(gets) == 1 and f" bytes={2 * MiB} " in gets[0]  # large.bin
        assert 1 <= len(reads) <= 12, len(reads)
    else:
        assert len(gets) == FILES + 1 and reads == []
    assert b.tree() == a.tree()
    assert remote_tree(sync_server, *account) == a.tree()
    assert_noop(a)
    assert_noop(b)


def test_edits_deletes_and_a_conflict_go_through_batches_as_before(
    make_client, sync_server, account, mode
):
    a, b = make_client("a"), make_client("b")
    small_tree(a, 60)
    a.sync()
    b.sync()
    paths = sorted(a.tree())
    edited, deleted = paths[:10], paths[10:20]
    old = {p: (b.folder / p).read_bytes() for p in edited}
    for p in edited:
        write(a.folder / p, f"edited by a: {p}\n")
    for p in deleted:
        (a.folder / p).unlink()
    for n in range(5):
        write(a.folder / f"new/n{n}.txt", f"new {n}\n")
    write(b.folder / edited[0], "edited by b at the same time\n")
    mark = len(sync_server.stderr_lines)
    a.sync()
    if mode == "full":
        assert requests(sync_server, mark, "PUT", FILE) == []
        assert requests(sync_server, mark, "DELETE", FILE) == []
    b.sync()
    a.sync()
    assert a.tree() == b.tree() == remote_tree(sync_server, *account)
    assert not set(deleted) & set(a.tree())
    copies = [p for p in b.tree() if "(conflicted copy" in p]
    assert len(copies) == 1, copies
    assert (b.folder / copies[0]).read_text() == "edited by b at the same time\n"
    assert (b.folder / edited[0]).read_text() == f"edited by a: {edited[0]}\n"
    trashed = {e.rel_path: e.path.read_bytes() for e in trash_of(b).list()}
    for p in edited[1:]:  # overwritten by a's version: the old one went to the trash first
        assert trashed[p] == old[p]
    for p in deleted:
        assert p in trashed
    assert_noop(a)
    assert_noop(b)


def test_a_batch_threshold_of_zero_sends_one_request_per_file(
    make_client, sync_server, account, mode, monkeypatch
):
    if mode == "base-only":
        pytest.skip("a base-only server never gets batches")
    monkeypatch.setenv("SYNCD_BATCH_THRESHOLD", "0")
    a = make_client("a")
    small_tree(a, 20)
    mark = len(sync_server.stderr_lines)
    a.sync()
    assert len(requests(sync_server, mark, "PUT", FILE)) == 20
    assert requests(sync_server, mark, "POST", BATCH) == []
