"""Two real ``syncd serve`` processes on one PostgreSQL database and one data directory."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from syncd.server.blobs import INLINE_MAX
from syncd.soak.harness import ServerProcess, wait_until
from tests.integration.server.conftest import files_url, listing, put
from tests.support.postgres import process_pair

pytestmark = pytest.mark.postgresql


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with process_pair(tmp_path / "data") as both:
        yield both


def workspace(http: httpx.Client) -> str:
    response = http.post("/api/v1/workspaces", json={"name": "shared"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_long_poll_on_one_process_wakes_on_a_write_to_the_other(pair) -> None:
    one, two = pair
    key = one.create_account("poller")
    with one.client(key) as a, two.client(key) as b:
        ws = workspace(a)
        cursor = a.get(f"/api/v1/workspaces/{ws}/changes", params={"from_revision": 0})
        start = cursor.json()["end_revision"]
        answer: dict[str, httpx.Response] = {}

        def poll() -> None:
            params = {"from_revision": start, "wait": 60}
            answer["page"] = b.get(f"/api/v1/workspaces/{ws}/changes", params=params)

        poller = threading.Thread(target=poll)
        poller.start()
        assert put(a, ws, "news", b"hello").status_code == 204
        poller.join(timeout=30)  # the poll waits up to 60 s: only a wake-up answers sooner
        assert not poller.is_alive()
        assert [e["path"] for e in answer["page"].json()["created"]] == ["news"]


def test_writers_on_two_processes_never_repeat_a_revision(pair) -> None:
    one, two = pair
    key = one.create_account("writers")
    with one.client(key) as http:
        ws = workspace(http)
    errors: list[str] = []

    def write(server: ServerProcess, n: int) -> None:
        with server.client(key) as own:
            for i in range(10):
                response = put(own, ws, f"w{n}/f{i}", f"{n}-{i}".encode())
                if response.status_code != 204:
                    errors.append(response.text)

    writers = [threading.Thread(target=write, args=(pair[n % 2], n)) for n in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    with one.client(key) as a, two.client(key) as b:
        page = a.get(f"/api/v1/workspaces/{ws}/changes", params={"from_revision": 0}).json()
        files = [e for e in page["created"] if e["type"] == "file"]
        revisions = [e["revision"] for e in files]
        assert len(files) == 80 and len(set(revisions)) == 80
        assert page["end_revision"] == max(e["revision"] for e in page["created"])
        assert listing(a, ws) == listing(b, ws)


def test_an_upload_begun_on_one_process_commits_on_the_other(pair) -> None:
    one, two = pair
    key = one.create_account("uploader")
    body = bytes(range(256)) * 4096  # 1 MiB, in two chunks
    with one.client(key) as a, two.client(key) as b:
        ws = workspace(a)
        begun = a.post(f"/api/v1/workspaces/{ws}/uploads", json={"path": "big", "size": len(body)})
        assert begun.status_code == 201, begun.text
        upload = begun.json()["upload_id"]
        url = f"/api/v1/workspaces/{ws}/uploads/{upload}"
        half = len(body) // 2
        first = a.put(f"{url}?offset=0", content=body[:half])
        assert first.status_code in (200, 204), first.text
        second = b.put(f"{url}?offset={half}", content=body[half:])
        assert second.status_code in (200, 204), second.text
        done = b.post(f"{url}/commit", json={})
        assert done.status_code in (200, 201), done.text
        assert a.get(files_url(ws, "big")).content == body


def _sql(url: str, query: str, *params: object) -> list[tuple]:
    """Rows of ``query`` on its own connection, committed at once."""
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def _waiting_on_a_lock(url: str) -> bool:
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return _sql(url, query)[0][0] > 0


def _commit_upload(http: httpx.Client, ws: str, path: str, body: bytes) -> httpx.Response:
    """An E3 upload of ``body`` in two chunks, committed; the commit's answer."""
    begun = http.post(f"/api/v1/workspaces/{ws}/uploads", json={"path": path, "size": len(body)})
    assert begun.status_code == 201, begun.text
    url = f"/api/v1/workspaces/{ws}/uploads/{begun.json()['upload_id']}"
    half = len(body) // 2
    for offset, chunk in ((0, body[:half]), (half, body[half:])):
        answer = http.put(f"{url}?offset={offset}", content=chunk)
        assert answer.status_code in (200, 204), answer.text
    return http.post(f"{url}/commit", json={})


@pytest.mark.parametrize("how", ["put", "upload"])
def test_a_collection_on_one_process_spares_a_blob_the_other_is_committing(pair, how: str) -> None:
    """Process two has placed a blob and waits to commit its reference while process one
    collects that very blob (its last entry deleted): the reference still finds its bytes.

    The test holds the workspace row of process two's write (every write locks it first),
    so process two stops exactly between placing the blob and committing it.
    """
    one, two = pair
    url = one.database_url
    assert url is not None
    key = one.create_account("collector")
    body = bytes(range(256)) * 4096  # 1 MiB: a blob file, not kept in the database
    digest = hashlib.sha256(body).hexdigest()
    blob_file = one.data_dir / "blobs" / digest[:2] / digest[2:4] / digest
    answer: dict[str, httpx.Response] = {}
    with one.client(key) as a, two.client(key) as b:
        here, there = workspace(a), workspace(a)
        assert put(a, here, "old", body).status_code == 204
        with psycopg.connect(url) as holder:
            holder.execute("SELECT id FROM workspaces WHERE id = %s FOR UPDATE", (there,))

            def write() -> None:
                if how == "put":
                    answer["new"] = put(b, there, "new", body)
                else:
                    answer["new"] = _commit_upload(b, there, "new", body)

            writer = threading.Thread(target=write)
            writer.start()
            assert wait_until(lambda: _waiting_on_a_lock(url), 30), "the write never waited"
            assert a.delete(files_url(here, "old")).status_code == 204  # the last reference
            gone = "SELECT hash FROM blobs WHERE hash = %s"
            assert wait_until(lambda: not _sql(url, gone, digest), 30), "nothing collected"
            holder.rollback()  # process two's write goes on
        writer.join(timeout=60)
        assert not writer.is_alive()
        assert answer["new"].status_code in (200, 201, 204), answer["new"].text
        assert _sql(url, "SELECT refcount FROM blobs WHERE hash = %s", digest) == [(1,)]
        assert blob_file.exists()
        # another collection, now that the reference is in: the blob stays
        assert put(a, here, "other", b"O" * len(body)).status_code == 204
        assert a.delete(files_url(here, "other")).status_code == 204
        other = hashlib.sha256(b"O" * len(body)).hexdigest()
        assert wait_until(lambda: not _sql(url, gone, other), 30)
        for http in (a, b):
            assert http.get(files_url(there, "new")).content == body


REFERENCES = """
SELECT b.hash, b.refcount, (SELECT count(*) FROM entries e WHERE e.hash = b.hash)
FROM blobs b
"""


def test_mixed_writes_on_two_processes_keep_every_reference_counted(pair) -> None:
    """Puts, overwrites, deletes, copies and moves of shared contents race on one workspace
    from both processes; afterwards every blob counts exactly the entries naming it, and
    every entry's bytes are there (nothing collected that something references)."""
    one, two = pair
    url = one.database_url
    assert url is not None
    key = one.create_account("mixed")
    with one.client(key) as http:
        ws = workspace(http)
    contents = [bytes([n]) * (INLINE_MAX + 1 + n) for n in range(3)] + [b"small", b"tiny"]
    paths = [f"d/p{n}" for n in range(6)]
    errors: list[str] = []

    def work(server: ServerProcess, seed: int) -> None:
        rng = random.Random(seed)
        with server.client(key) as own:
            for _ in range(25):
                path, other = rng.sample(paths, 2)
                kind = rng.choice(["put", "put", "delete", "copy", "move"])
                if kind == "put":
                    answer = put(own, ws, path, rng.choice(contents))
                elif kind == "delete":
                    answer = own.delete(files_url(ws, path))
                else:
                    answer = own.post(files_url(ws, path), json={"op": kind, "dest": other})
                if answer.status_code >= 500:
                    errors.append(f"{kind} {path}: {answer.status_code} {answer.text}")

    workers = [threading.Thread(target=work, args=(pair[n % 2], n)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []

    def counted() -> list[tuple]:
        rows = _sql(url, REFERENCES)
        return [row for row in rows if row[1] != row[2]]

    assert counted() == []  # refcount == entries naming it, for every blob row
    with one.client(key) as a, two.client(key) as b:
        assert listing(a, ws) == listing(b, ws)
        for path, entry in listing(a, ws).items():
            if entry["type"] == "file":
                for http in (a, b):
                    body = http.get(files_url(ws, path)).content
                    assert f"sha256:{hashlib.sha256(body).hexdigest()}" == entry["hash"]


def _flocks(path: Path) -> tuple[int, int]:
    """(held, waiting) flocks on ``path``'s inode, from /proc/locks (Linux)."""
    inode = f":{path.stat().st_ino} "
    held = waiting = 0
    for line in Path("/proc/locks").read_text().splitlines():
        if "FLOCK" in line and inode in line:
            if "->" in line:
                waiting += 1
            else:
                held += 1
    return held, waiting


def test_a_chunk_retried_on_the_other_process_waits_for_the_first_and_spares_its_bytes(
    pair,
) -> None:
    """A client gives up on a slow chunk and sends it again to the other process: the
    second waits for the first, then refuses (offset moved), and never truncates it."""
    one, two = pair
    key = one.create_account("retrier")
    body = bytes(range(256)) * 8192  # 2 MiB, in two chunks
    half = len(body) // 2
    release = threading.Event()
    answers: dict[str, httpx.Response] = {}
    with one.client(key) as a, two.client(key) as b:
        ws = workspace(a)
        begun = a.post(f"/api/v1/workspaces/{ws}/uploads", json={"path": "f", "size": len(body)})
        upload = begun.json()["upload_id"]
        url = f"/api/v1/workspaces/{ws}/uploads/{upload}"
        session_file = one.data_dir / "uploads" / upload

        def slow() -> Iterator[bytes]:
            yield body[: half // 2]
            release.wait(30)
            yield body[half // 2 : half]

        def first() -> None:
            answers["first"] = a.put(f"{url}?offset=0", content=slow())

        def second() -> None:
            answers["second"] = b.put(f"{url}?offset=0", content=body[:half])

        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        threads[0].start()
        assert wait_until(lambda: _flocks(session_file)[0] == 1, 30), "no lock on the file"
        threads[1].start()
        assert wait_until(lambda: _flocks(session_file)[1] == 1, 30), "the retry did not wait"
        release.set()
        for thread in threads:
            thread.join(60)
        assert answers["first"].status_code == 200, answers["first"].text
        assert answers["second"].status_code == 409, answers["second"].text
        assert answers["second"].json()["error"] == "offset_mismatch"
        assert b.put(f"{url}?offset={half}", content=body[half:]).status_code == 200
        done = b.post(f"{url}/commit", json={})
        assert done.status_code == 200, done.text
        assert a.get(files_url(ws, "f")).content == body


def test_a_batch_read_on_one_process_keeps_its_blobs_while_the_other_collects(pair) -> None:
    """The pins of an answer being sent by process one are seen by process two's
    collection: the old contents it names stay until the answer is over."""
    one, two = pair
    url = one.database_url
    assert url is not None
    key = one.create_account("reader")
    first = b"F" * (24 << 20)  # larger than the socket buffers: the answer stalls in it
    old = b"L" * (INLINE_MAX * 2)
    canary = b"C" * (INLINE_MAX * 2)  # not asked for: its collection shows one ran
    gone = "SELECT hash FROM blobs WHERE hash = %s"
    with one.client(key) as a, two.client(key) as b:
        ws = workspace(a)
        for path, data in (("first", first), ("large", old), ("canary", canary)):
            assert put(a, ws, path, data).status_code == 204
        read = f"/api/v1/workspaces/{ws}/batch-read"
        with a.stream("POST", read, json={"paths": ["first", "large"]}) as response:
            chunks = response.iter_raw()
            head = next(chunks)
            assert put(b, ws, "large", b"new").status_code == 204  # on process two
            assert b.delete(files_url(ws, "canary")).status_code == 204
            canary_hash = hashlib.sha256(canary).hexdigest()
            assert wait_until(lambda: not _sql(url, gone, canary_hash), 30), "no collection"
            assert _sql(url, gone, hashlib.sha256(old).hexdigest())  # pinned: still there
            answer = b"".join([head, *chunks])
        assert old in answer and answer.count(b"F" * 4096) >= (24 << 20) // 4096
        old_hash = hashlib.sha256(old).hexdigest()
        assert b.delete(files_url(ws, "first")).status_code == 204  # a collection on two
        assert wait_until(lambda: not _sql(url, gone, old_hash), 30), "the pin never went"
