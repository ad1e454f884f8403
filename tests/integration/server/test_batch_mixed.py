"""E5 batches that mix every kind of record, on both engines: each record comes out as the
single request would have, the change feed shows the batch as its one revision, and every
blob's reference count stays exact."""

from __future__ import annotations

import hashlib
import random
import threading
from pathlib import Path

import httpx
import pytest

from syncd.server.blobs import INLINE_MAX
from syncd.soak.harness import ServerProcess
from tests.integration.server.batching import (
    batch,
    delete_record,
    mkdir_record,
    put_record,
    revision,
    sha,
    statuses,
)
from tests.integration.server.conftest import files_url, listing, put
from tests.support.postgres import process_pair

LARGE = bytes(range(256)) * (INLINE_MAX // 128)  # 128 KiB: spooled, kept as a blob file

# Per blob: its count, the entries that name it, whether its bytes are anywhere.
REFERENCES = """
SELECT b.hash, b.refcount,
       (SELECT count(*) FROM entries e WHERE e.hash = b.hash),
       (SELECT count(*) FROM blob_bytes x WHERE x.hash = b.hash)
FROM blobs b
"""
UNCOUNTED = "SELECT DISTINCT hash FROM entries WHERE hash IS NOT NULL AND hash NOT IN (SELECT hash FROM blobs)"


def _rows(server: ServerProcess, sql: str) -> list[tuple]:
    from sqlalchemy import create_engine, text

    from syncd.server.db import default_url, engine_url

    engine = create_engine(engine_url(server.database_url or default_url(server.data_dir)))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql))]
    finally:
        engine.dispose()


def assert_counted(server: ServerProcess) -> None:
    """Every blob counts exactly the entries naming it, and every named blob has its bytes."""
    assert _rows(server, UNCOUNTED) == []
    for digest, count, named, inline in _rows(server, REFERENCES):
        assert count == named, digest
        if count > 0:
            on_disk = (server.data_dir / "blobs" / digest[:2] / digest[2:4] / digest).exists()
            assert inline or on_disk, digest


def feed(client: httpx.Client, ws: str, cursor: int) -> dict[str, set[tuple[str, str]]]:
    page = client.get(
        f"/api/v1/workspaces/{ws}/changes", params={"from_revision": cursor, "limit": 10000}
    ).json()
    return {
        kind: {(entry["path"], entry["type"]) for entry in page[kind]}
        for kind in ("created", "updated", "deleted")
    }


def test_a_mixed_batch_applies_each_record_as_the_single_request_would(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    put(client, ws, "keep.txt", b"v1")
    put(client, ws, "stale.txt", b"v1")
    put(client, ws, "old/gone.txt", b"bye")
    put(client, ws, "old/deep/gone2.txt", b"bye")
    put(client, ws, "folder/inside", b"x")
    put(client, ws, "shared-a", b"same bytes")
    put(client, ws, "plain", b"a file")
    put(client, ws, "caf\u00e9.txt", b"nfc")
    before = listing(client, ws)
    cursor = revision(client, ws)
    answer = batch(
        client,
        ws,
        put_record("new/one.txt", b"1"),  # parents made
        put_record("keep.txt", b"v2", if_match=before["keep.txt"]["revision"]),  # overwrite
        put_record("stale.txt", b"lost", if_match=before["stale.txt"]["revision"] + 7),  # 412
        put_record("new/two.txt", b"2"),  # after the 412: still applied, parent exists now
        delete_record("old"),  # a folder with its contents
        put_record("old/again.txt", b"again"),  # the deleted folder made again below
        mkdir_record("made/sub"),  # mkdir with a parent
        put_record("made/sub/leaf", b"leaf"),  # parent made by the record before
        mkdir_record("new"),  # made by the first record: exists, no change
        put_record("folder", b"onto a folder"),  # 409
        mkdir_record("plain"),  # 409: a file where a folder is needed
        put_record("keep.txt/below", b"b"),  # 409: the parent is a file
        delete_record("nothing"),  # 404
        put_record("shared-b", b"same bytes"),  # the blob of shared-a, a second reference
        put_record("shared-a", b"same bytes", if_none_match="*"),  # 412: exists
        put_record("cafe\u0301.txt", b"nfd", if_match=before["caf\u00e9.txt"]["revision"]),
        put_record("CAF\u00c9.txt", b"upper"),  # another name: paths are case-sensitive
        put_record("big", LARGE),  # a blob file
    )
    assert statuses(answer) == [
        ("new/one.txt", 200, None),
        ("keep.txt", 200, None),
        ("stale.txt", 412, "precondition_failed"),
        ("new/two.txt", 200, None),
        ("old", 200, None),
        ("old/again.txt", 200, None),
        ("made/sub", 200, None),
        ("made/sub/leaf", 200, None),
        ("new", 200, None),
        ("folder", 409, "conflict"),
        ("plain", 409, "conflict"),
        ("keep.txt/below", 409, "conflict"),
        ("nothing", 404, "not_found"),
        ("shared-b", 200, None),
        ("shared-a", 412, "precondition_failed"),
        ("caf\u00e9.txt", 200, None),
        ("CAF\u00c9.txt", 200, None),
        ("big", 200, None),
    ]
    new_revision = answer["revision"]
    assert new_revision == cursor + 1
    after = listing(client, ws)
    results = answer["results"]
    assert results[0]["entry"] == after["new/one.txt"]
    assert results[8]["entry"] == after["new"]  # the folder the first record made
    assert after["new"]["revision"] == new_revision
    assert after["keep.txt"]["hash"] == sha(b"v2") and after["keep.txt"]["revision"] == new_revision
    assert after["stale.txt"] == before["stale.txt"]
    assert after["old"]["type"] == "directory" and "old/deep" not in after
    assert "old/gone.txt" not in after and "old/deep/gone2.txt" not in after
    assert after["made"]["type"] == after["made/sub"]["type"] == "directory"
    assert (
        after["folder"]["type"] == "directory" and after["folder/inside"] == before["folder/inside"]
    )
    assert "keep.txt/below" not in after and "nothing" not in after
    assert after["shared-a"] == before["shared-a"]
    assert after["caf\u00e9.txt"]["hash"] == sha(b"nfd") and "cafe\u0301.txt" not in after
    assert after["CAF\u00c9.txt"]["hash"] == sha(b"upper")
    for path, data in [("big", LARGE), ("old/again.txt", b"again"), ("shared-b", b"same bytes")]:
        assert client.get(files_url(ws, path)).content == data
    # The feed shows the batch as one step; the folder "old" is a folder again, so what
    # went from it is told.
    assert feed(client, ws, cursor) == {
        "created": {
            ("new", "directory"),
            ("new/one.txt", "file"),
            ("new/two.txt", "file"),
            ("old", "directory"),
            ("old/again.txt", "file"),
            ("made", "directory"),
            ("made/sub", "directory"),
            ("made/sub/leaf", "file"),
            ("shared-b", "file"),
            ("CAF\u00c9.txt", "file"),
            ("big", "file"),
        },
        "updated": {("keep.txt", "file"), ("caf\u00e9.txt", "file")},
        "deleted": {("old/deep", "directory"), ("old/gone.txt", "file")},  # "old" is back
    }
    assert_counted(shared_server)


def test_records_later_in_a_batch_see_what_earlier_ones_did(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    put(client, ws, "tree/a", b"a")
    cursor = revision(client, ws)
    dropped = b"d" * (INLINE_MAX * 2)  # contents of this test alone, kept as a blob file
    answer = batch(
        client,
        ws,
        put_record("tree/b/c", b"c"),  # below a folder deleted next
        delete_record("tree"),  # takes tree/a and what the batch just put below it
        put_record("tree/new", b"new"),  # the folder made again
        put_record("tree/new/x", b"x"),  # 409: its parent is the file just written
        put_record("tmp/blob", dropped),  # a blob file, deleted again by the next record
        delete_record("tmp"),
        mkdir_record("tmp/again"),
    )
    assert statuses(answer) == [
        ("tree/b/c", 200, None),
        ("tree", 200, None),
        ("tree/new", 200, None),
        ("tree/new/x", 409, "conflict"),
        ("tmp/blob", 200, None),
        ("tmp", 200, None),
        ("tmp/again", 200, None),
    ]
    after = listing(client, ws)
    assert sorted(after) == ["tmp", "tmp/again", "tree", "tree/new"]
    assert after["tree"]["revision"] == answer["revision"]  # a new life of the folder
    assert feed(client, ws, cursor) == {
        "created": {
            ("tree", "directory"),
            ("tree/new", "file"),
            ("tmp", "directory"),
            ("tmp/again", "directory"),
        },
        "updated": set(),
        "deleted": {("tree/a", "file")},  # the folder is back, so its content is told
    }
    assert_counted(shared_server)
    digest = hashlib.sha256(dropped).hexdigest()
    assert digest not in {p.name for p in (shared_server.data_dir / "blobs").glob("??/??/*")}
    assert not _rows(shared_server, f"SELECT hash FROM blobs WHERE hash = '{digest}'")


# -- the same records as a batch and one by one ---------------------------------------------

PATHS = ["a", "a/b", "a/b/c", "a/x", "b", "b/y", "b/y/z", "c", "d/e"]
CONTENTS = [b"one", b"two", b"three", LARGE, b""]


def _random_records(rng: random.Random, current: dict[str, dict]) -> list[tuple]:
    """(kind, path, data, condition) with no path twice; conditions from ``current``."""
    chosen = rng.sample(PATHS, rng.randint(1, len(PATHS)))
    records = []
    for path in chosen:
        kind = rng.choice(["put", "put", "put", "delete", "mkdir"])
        entry = current.get(path)
        condition = rng.choice(["none", "none", "match", "stale", "absent"])
        if kind == "mkdir":
            condition = "none"
        if kind == "delete" and condition == "absent":
            condition = "none"
        data = rng.choice(CONTENTS) if kind == "put" else None
        records.append((kind, path, data, condition, entry["revision"] if entry else 1))
    return records


def _as_batch(records: list[tuple]) -> list[bytes]:
    out = []
    for kind, path, data, condition, rev in records:
        fields: dict[str, object] = {}
        if condition == "match":
            fields["if_match"] = rev
        elif condition == "stale":
            fields["if_match"] = rev + 1000
        elif condition == "absent":
            fields["if_none_match"] = "*"
        if kind == "put":
            out.append(put_record(path, data, **fields))
        elif kind == "delete":
            out.append(delete_record(path, **fields))
        else:
            out.append(mkdir_record(path))
    return out


def _one_by_one(client: httpx.Client, ws: str, records: list[tuple]) -> list[tuple]:
    """The single requests of ``records``, with the revisions of ``ws`` as the batch's
    conditions were written against (match, stale, absent)."""
    current = listing(client, ws)
    found = []
    for kind, path, data, condition, _ in records:
        entry = current.get(path)
        headers: dict[str, str] = {}
        if condition == "match":
            headers["If-Match"] = f'"{entry["revision"] if entry else 1}"'
        elif condition == "stale":
            headers["If-Match"] = f'"{(entry["revision"] if entry else 1) + 1000}"'
        elif condition == "absent":
            headers["If-None-Match"] = "*"
        if kind == "put":
            response = client.put(files_url(ws, path), content=data, headers=headers)
        elif kind == "delete":
            response = client.delete(files_url(ws, path), headers=headers)
        else:
            response = client.post(files_url(ws, path), json={"op": "mkdir"})
        status = 200 if response.status_code in (200, 201, 204) else response.status_code
        found.append((path, status, None if status == 200 else response.json()["error"]))
    return found


def _shape(entries: dict[str, dict]) -> dict[str, tuple]:
    return {path: (e["type"], e["size"], e.get("hash")) for path, e in entries.items()}


def test_random_batches_come_out_as_the_same_records_one_by_one(
    shared_server: ServerProcess, client: httpx.Client
) -> None:
    """Two workspaces, the same records: one gets them as batches, the other as single
    requests. Statuses, trees and the feed's net change agree after every round."""
    rng = random.Random(16)
    batched, single = (
        client.post("/api/v1/workspaces", json={"name": name}).json()["id"]
        for name in ("batched", "single")
    )
    for _ in range(30):
        current = listing(client, batched)
        assert _shape(current) == _shape(listing(client, single))
        records = _random_records(rng, current)
        cursors = revision(client, batched), revision(client, single)
        answer = batch(client, batched, *_as_batch(records))
        assert statuses(answer) == _one_by_one(client, single, records), records
        assert _shape(listing(client, batched)) == _shape(listing(client, single)), records
        assert feed(client, batched, cursors[0]) == feed(client, single, cursors[1]), records
    assert_counted(shared_server)


# -- several server processes ----------------------------------------------------------------


@pytest.mark.postgresql
def test_batches_on_two_processes_sharing_contents_keep_every_count(tmp_path: Path) -> None:
    """Batches from both processes into two workspaces, naming the same new contents at
    once (so both insert the same new blob rows), overwriting and deleting them: every
    batch is answered, and afterwards every count is exact and every file readable."""
    with process_pair(tmp_path / "data") as (one, two):
        key = one.create_account("batchers")
        with one.client(key) as http:
            spaces = [http.post("/api/v1/workspaces", json={"name": n}).json()["id"] for n in "xy"]
        contents = [f"shared {n}".encode() * (1 + n) for n in range(40)] + [LARGE]
        errors: list[str] = []

        def work(server: ServerProcess, ws: str, seed: int) -> None:
            rng = random.Random(seed)
            with server.client(key) as own:
                for round_ in range(12):
                    records = [
                        put_record(f"r{n % 7}/f{n:02d}", rng.choice(contents))
                        for n in rng.sample(range(30), 20)
                    ]
                    if round_ % 3 == 2:
                        records.append(delete_record(f"r{rng.randrange(7)}"))
                    answer = own.post(
                        f"/api/v1/workspaces/{ws}/batch",
                        content=b"".join(records),
                        headers={"Content-Type": "application/vnd.syncd.records"},
                        timeout=120,
                    )
                    if answer.status_code != 200:
                        errors.append(f"{answer.status_code} {answer.text}")

        workers = [
            threading.Thread(target=work, args=(server, ws, seed))
            for seed, (server, ws) in enumerate(
                [(one, spaces[0]), (two, spaces[0]), (one, spaces[1]), (two, spaces[1])]
            )
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        logs = [line for server in (one, two) for line in server.stderr_lines if "rror" in line]
        assert errors == [], logs[-20:]
        assert_counted(one)
        with one.client(key) as a, two.client(key) as b:
            for ws in spaces:
                assert listing(a, ws) == listing(b, ws)
                for path, entry in listing(a, ws).items():
                    if entry["type"] == "file":
                        body = b.get(files_url(ws, path)).content
                        assert sha(body) == entry["hash"]
