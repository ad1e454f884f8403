"""Our own writes are not read back from the feed; another client's writes still are.

Against the real server: after an upload, the mirror and its cursor already stand past
the revisions our batches made, so the next sync's feed read carries no entry, and the
mirror is exactly the server's tree. A write of another client between two of ours, or a
mkdir-only batch of ours that made no revision of its own, ends the fast-forward there:
the feed brings the rest, the other client's write included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.remote.feed import follow_feed
from syncd.remote.own_writes import OwnWrites, fast_forward, feed_confirms
from syncd.soak.harness import ServerProcess, create_workspace
from syncd.state import Store
from syncd.transport import Client, TransportSettings
from syncd.transport.batch_items import MakeDir, PutFile
from tests.support.clients import SyncClient, remote_tree, sync_settled, write

NOTHING = "uploaded 0, downloaded 0, moved 0, deleted 0, conflicts 0, failed 0"


def feed_reads(server: ServerProcess, mark: int) -> list[int]:
    """The body size of every feed answer after ``mark`` in the server's access log."""
    sizes = []
    for line in list(server.stderr_lines)[mark:]:
        found = re.search(r" method=GET route=\S*/changes status=200 bytes=(\d+)", line)
        if found:
            sizes.append(int(found.group(1)))
    return sizes


def mirror_rows(client: SyncClient) -> dict[str, tuple]:
    (db,) = client.state_dir.glob("*.sqlite3")
    with Store.open(db, create=False) as store:
        return {
            p: (n.kind.value, n.size, n.revision, n.hash) for p, n in store.remote.tree().items()
        }


def listed(server: ServerProcess, key: str, workspace: str) -> dict[str, tuple]:
    with server.client(key) as http:
        entries = http.get(f"/api/v1/workspaces/{workspace}/files").json()["entries"]
    return {e["path"]: (e["type"], e["size"], e.get("revision"), e.get("hash")) for e in entries}


def test_the_sync_after_an_upload_reads_no_feed_entries(make_client, sync_server, account, mode):
    key, workspace = account
    a = make_client("a")
    for n in range(120):
        write(a.folder / f"d{n % 4}/sub{n % 3}/f{n:03}.txt", f"file {n}\n" * (n % 7 + 1))
    first = a.sync()
    if mode == "base-only":  # each upload is confirmed once, by its bytes (README)
        a.sync()
    mark = len(sync_server.stderr_lines)
    again = a.sync()
    assert NOTHING in again.stdout and " op=" not in again.stderr, again.stderr
    reads = feed_reads(sync_server, mark)
    if mode == "full":
        assert "event=feed_fast_forward" in first.stderr, first.stderr
        # one page and no entry in it: {"end_revision": N, "created": [], ...}
        assert len(reads) == 1 and reads[0] < 120, reads
        assert mirror_rows(a) == listed(sync_server, key, workspace)
    else:  # no feed on a base-only server: nothing to skip, the listing as before
        assert reads == []
        assert "event=feed_fast_forward" not in first.stderr
    b = make_client("b")
    b.sync()
    assert b.tree() == a.tree() == remote_tree(sync_server, key, workspace)


def test_a_change_by_another_client_after_our_upload_is_still_synced(make_client, mode):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "notes/one.txt", "one")
    a.sync()
    b.sync()
    write(b.folder / "notes/two.txt", "two")
    b.sync()
    write(a.folder / "notes/three.txt", "three")
    a.sync()  # uploads three after b's two: the feed brings two, not three
    assert sync_settled(a).returncode == 0
    assert sorted(a.tree()) == ["notes/one.txt", "notes/three.txt", "notes/two.txt"]
    assert sync_settled(b).returncode == 0
    assert b.tree() == a.tree()


# -- the run of revisions, against the real server ------------------------------------


@pytest.fixture
def live(tmp_path: Path, server: ServerProcess) -> Iterator[tuple[Client, Client, str, Store]]:
    """Our client (its batch answers noted), another client, the workspace, our store."""
    key = server.create_account("alice")
    workspace = create_workspace(server, key)
    ours = Client(TransportSettings(server.url, key, max_retries=1))
    other = Client(TransportSettings(server.url, key, max_retries=1))
    with ours, other, Store.open(tmp_path / "state.sqlite3") as store:
        yield ours, other, workspace, store


def batch(client: Client, workspace: str, root: Path, *paths: str, dirs: tuple[str, ...] = ()):
    items: list = [MakeDir(d) for d in dirs]
    for path in paths:
        source = root / path.replace("/", "_")
        source.write_text(f"bytes of {path}")
        items.append(PutFile(path, source, if_revision=0))
    result = client.batch.write(workspace, items)
    assert all(r.is_applied for r in result.results), result
    return result


def test_a_foreign_write_between_two_of_ours_is_read_from_the_feed(live, tmp_path):
    ours, other, workspace, store = live
    own = OwnWrites()
    ours.batch.on_written = own.note_batch
    assert follow_feed(ours, store, workspace).end_revision == 0  # cursor 0
    first = batch(ours, workspace, tmp_path, "a.txt", "b.txt")
    batch(other, workspace, tmp_path, "theirs.txt")
    batch(ours, workspace, tmp_path, "c.txt")
    assert fast_forward(store, own, feed_confirms(ours, workspace)) == 1
    assert store.meta.cursor() == first.revision
    result = follow_feed(ours, store, workspace)
    assert result.changed == {"theirs.txt", "c.txt"} and result.entries == 2
    assert set(store.remote.tree()) == {"a.txt", "b.txt", "theirs.txt", "c.txt"}


def test_nothing_moves_when_the_first_revision_after_the_cursor_is_not_ours(live, tmp_path):
    ours, other, workspace, store = live
    own = OwnWrites()
    ours.batch.on_written = own.note_batch
    follow_feed(ours, store, workspace)
    batch(other, workspace, tmp_path, "theirs.txt")
    batch(ours, workspace, tmp_path, "mine.txt")
    assert fast_forward(store, own, feed_confirms(ours, workspace)) == 0
    assert store.meta.cursor() == 0
    assert follow_feed(ours, store, workspace).changed == {"theirs.txt", "mine.txt"}


def test_a_mkdir_of_a_folder_another_client_just_made_claims_no_revision(live, tmp_path):
    ours, other, workspace, store = live
    own = OwnWrites()
    ours.batch.on_written = own.note_batch
    follow_feed(ours, store, workspace)
    theirs = batch(other, workspace, tmp_path, "x/theirs.txt", dirs=("x",))
    mine = ours.batch.write(workspace, [MakeDir("x")])  # exists: no revision of ours
    assert mine.revision == theirs.revision  # the answer names the other client's
    assert fast_forward(store, own, feed_confirms(ours, workspace)) == 0
    assert set(follow_feed(ours, store, workspace).tree) == {"x", "x/theirs.txt"}


def test_folders_we_made_are_confirmed_by_one_small_page(live, tmp_path):
    ours, _other, workspace, store = live
    own = OwnWrites()
    ours.batch.on_written = own.note_batch
    follow_feed(ours, store, workspace)
    ours.batch.write(workspace, [MakeDir("x")])
    ours.batch.write(workspace, [MakeDir("x/y")])
    last = batch(ours, workspace, tmp_path, *(f"x/y/f{n}.txt" for n in range(30)))
    assert fast_forward(store, own, feed_confirms(ours, workspace)) == 3
    assert store.meta.cursor() == last.revision
    assert follow_feed(ours, store, workspace).entries == 0
    assert len(store.remote.tree()) == 32


def test_without_confirmation_the_run_stops_at_an_unsure_revision(live, tmp_path):
    ours, _other, workspace, store = live
    own = OwnWrites()
    ours.batch.on_written = own.note_batch
    follow_feed(ours, store, workspace)
    ours.batch.write(workspace, [MakeDir("x")])
    batch(ours, workspace, tmp_path, "x/f.txt")
    assert fast_forward(store, own) == 0  # a run ended by an error asks nothing more
    assert follow_feed(ours, store, workspace).changed == {"x", "x/f.txt"}


def test_a_put_whose_parents_the_server_made_is_read_from_the_feed(live, tmp_path):
    ours, _other, workspace, store = live
    own = OwnWrites()
    ours.batch.on_written = own.note_batch
    follow_feed(ours, store, workspace)
    batch(ours, workspace, tmp_path, "top.txt")
    batch(ours, workspace, tmp_path, "new/deep/f.txt")  # parents implied: not in the answer
    assert fast_forward(store, own, feed_confirms(ours, workspace)) == 1
    result = follow_feed(ours, store, workspace)
    assert result.changed == {"new", "new/deep", "new/deep/f.txt"}


def test_no_cursor_or_a_moved_one_moves_nothing(live, tmp_path):
    ours, _other, workspace, store = live
    own = OwnWrites()
    ours.batch.on_written = own.note_batch
    batch(ours, workspace, tmp_path, "a.txt")  # before any feed read: no cursor yet
    assert fast_forward(store, own, feed_confirms(ours, workspace)) == 0
    assert store.meta.cursor() is None
    follow_feed(ours, store, workspace)
    assert not store.remote.advance(expected=0, changes=[], cursor=5)  # it is 1 now
    assert store.meta.cursor() == 1


def test_a_chunked_upload_commit_moves_the_cursor_too(live, tmp_path):
    ours, _other, workspace, store = live
    own = OwnWrites()
    ours.batch.on_written = own.note_batch
    ours.uploads.on_committed = own.note_commit
    follow_feed(ours, store, workspace)
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (9 << 20))  # above the 8 MiB upload threshold: an E3 session
    result = ours.files.upload(workspace, "big.bin", big, create_only=True)
    assert result.entry is not None and result.entry.revision == 1
    batch(ours, workspace, tmp_path, "small.txt")
    assert fast_forward(store, own, feed_confirms(ours, workspace)) == 2
    assert follow_feed(ours, store, workspace).entries == 0
    assert store.remote.tree()["big.bin"].hash == result.hash
