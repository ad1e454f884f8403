"""E5: batch writes against the real server: per-record outcomes, whole-request refusals,
one transaction and one revision, durability, hostile streams."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from syncd.server.blobs import INLINE_MAX
from syncd.soak.harness import ServerProcess
from tests.integration.server.batching import (
    batch,
    delete_record,
    line,
    mkdir_record,
    post_batch,
    put_record,
    revision,
    sha,
    statuses,
)
from tests.integration.server.conftest import assert_error, files_url, first_column, listing, put


def blob_files(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "blobs").glob("??/??/*")}


def test_records_fail_alone_and_the_rest_is_applied(client: httpx.Client, ws: str) -> None:
    put(client, ws, "old.txt", b"old")
    put(client, ws, "taken.txt", b"taken")
    put(client, ws, "plain", b"a file")
    put(client, ws, "plain2", b"another file")
    put(client, ws, "dir/inside", b"x")
    put(client, ws, "dir2/inside", b"x")
    put(client, ws, "tree/x", b"x")
    rev = listing(client, ws)["old.txt"]["revision"]
    answer = batch(
        client,
        ws,
        put_record("new/a.txt", b"A\nA", hash=sha(b"A\nA")),  # 200, parents created
        put_record("old.txt", b"new", if_match=rev),  # 200: still at that revision
        put_record("taken.txt", b"mine", if_none_match="*"),  # 412: exists
        put_record("ghost.txt", b"g", if_match=rev),  # 412: a missing entry fails it
        put_record("plain/below", b"b"),  # 409: the parent is a file
        put_record("dir", b"d"),  # 409: a directory is there
        put_record("bad-hash", b"abc", hash=sha(b"abd")),  # 400: not its bytes
        delete_record("nothing-here"),  # 404
        delete_record("plain2", if_match=rev + 1000),  # 412
        mkdir_record("plain/sub"),  # 409: a file where a directory is needed
        mkdir_record("made/deep"),  # 200
        mkdir_record("dir2"),  # 200: exists already
        delete_record("tree"),  # 200: a directory and its contents
        put_record("empty", b""),  # 200
    )
    assert statuses(answer) == [
        ("new/a.txt", 200, None),
        ("old.txt", 200, None),
        ("taken.txt", 412, "precondition_failed"),
        ("ghost.txt", 412, "precondition_failed"),
        ("plain/below", 409, "conflict"),
        ("dir", 409, "conflict"),
        ("bad-hash", 400, "invalid_parameter"),
        ("nothing-here", 404, "not_found"),
        ("plain2", 412, "precondition_failed"),
        ("plain/sub", 409, "conflict"),
        ("made/deep", 200, None),
        ("dir2", 200, None),
        ("tree", 200, None),
        ("empty", 200, None),
    ]
    results = {r["path"]: r for r in answer["results"]}
    for failed in ("taken.txt", "bad-hash", "nothing-here"):
        assert isinstance(results[failed]["message"], str)
    entries = listing(client, ws)
    new_revision = answer["revision"]
    assert results["new/a.txt"]["entry"] == entries["new/a.txt"]
    assert entries["new/a.txt"]["hash"] == sha(b"A\nA") and entries["new/a.txt"]["size"] == 3
    assert entries["new"]["type"] == "directory" and entries["new"]["revision"] == new_revision
    assert results["made/deep"]["entry"]["type"] == "directory"
    assert results["dir2"]["entry"] == entries["dir2"]  # the existing directory, unchanged
    assert entries["dir2"]["revision"] < new_revision
    assert "entry" not in results["tree"]
    assert client.get(files_url(ws, "old.txt")).content == b"new"
    assert client.get(files_url(ws, "taken.txt")).content == b"taken"
    assert client.get(files_url(ws, "empty")).content == b""
    for gone in ("ghost.txt", "plain/below", "bad-hash", "tree", "tree/x", "plain/sub"):
        assert gone not in entries
    assert entries["plain"]["type"] == "file" and entries["dir/inside"]["type"] == "file"


def test_one_batch_is_one_revision_and_one_feed_step(client: httpx.Client, ws: str) -> None:
    put(client, ws, "edit", b"1")
    put(client, ws, "gone", b"1")
    cursor = revision(client, ws)
    answer = batch(
        client,
        ws,
        *(put_record(f"d/f{n:02d}", f"file {n}".encode()) for n in range(20)),
        put_record("edit", b"2"),
        delete_record("gone"),
        mkdir_record("e/f"),
    )
    assert answer["revision"] == cursor + 1
    assert revision(client, ws) == cursor + 1
    entries = listing(client, ws)
    assert {e["revision"] for e in entries.values()} == {cursor + 1}
    page = client.get(
        f"/api/v1/workspaces/{ws}/changes", params={"from_revision": cursor, "limit": 1}
    ).json()
    # one revision: a page of limit 1 still carries the whole batch, never a part of it
    assert page["end_revision"] == cursor + 1 and page["has_more"] is False
    assert len(page["created"]) == 20 + 1 + 2  # the files, d, e and e/f
    assert [e["path"] for e in page["updated"]] == ["edit"]
    assert page["deleted"] == [{"path": "gone", "type": "file", "revision": cursor + 1}]


def test_a_batch_that_changes_nothing_issues_no_revision(client: httpx.Client, ws: str) -> None:
    put(client, ws, "f", b"1")
    client.post(files_url(ws, "d"), json={"op": "mkdir"})
    cursor = revision(client, ws)
    answer = batch(client, ws, delete_record("missing"), put_record("f", b"2", if_none_match="*"))
    assert statuses(answer) == [
        ("missing", 404, "not_found"),
        ("f", 412, "precondition_failed"),
    ]
    assert answer["revision"] == cursor and revision(client, ws) == cursor
    assert batch(client, ws, mkdir_record("d"))["revision"] == cursor  # exists: no change
    assert batch(client, ws)["results"] == []  # an empty stream is an empty batch
    assert revision(client, ws) == cursor


def test_a_long_poll_wakes_once_and_sees_the_whole_batch(
    shared_server: ServerProcess, api_key: str, client: httpx.Client, ws: str
) -> None:
    cursor = revision(client, ws)
    found: dict = {}
    polling = threading.Event()

    def poll() -> None:
        with shared_server.client(api_key) as own:
            polling.set()
            started = time.monotonic()
            found["page"] = own.get(
                f"/api/v1/workspaces/{ws}/changes",
                params={"from_revision": cursor, "wait": 30},
                timeout=60,
            ).json()
            found["elapsed"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    assert polling.wait(10)
    batch(client, ws, *(put_record(f"p{n:03d}", bytes([n]) * 100) for n in range(50)))
    poller.join(60)
    assert found["elapsed"] < 20
    assert len(found["page"]["created"]) == 50  # woken by the commit, not by a part of it
    assert found["page"]["end_revision"] == cursor + 1


def test_large_payloads_are_spooled_and_refused_ones_leave_no_blob(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    put(client, ws, "taken", b"x")
    big = bytes(range(256)) * (INLINE_MAX // 128)  # 128 KiB: a blob file, not inline
    refused = b"r" * (INLINE_MAX * 3)
    answer = batch(
        client,
        ws,
        put_record("big", big, hash=sha(big)),
        put_record("taken", refused, if_none_match="*"),
        put_record("small", b"s" * 100),
    )
    assert statuses(answer) == [
        ("big", 200, None),
        ("taken", 412, "precondition_failed"),
        ("small", 200, None),
    ]
    assert client.get(files_url(ws, "big")).content == big
    files = blob_files(shared_server.data_dir)
    assert sha(big)[7:] in files
    assert sha(refused)[7:] not in files  # placed for the batch, removed when refused
    assert not list((shared_server.data_dir / "blobs" / "tmp").iterdir())


def test_many_small_payloads_past_the_memory_budget_all_land(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    files = {f"s/{n:03d}": bytes([n % 251]) * (INLINE_MAX - n) for n in range(140)}  # > 8 MiB
    answer = batch(client, ws, *(put_record(p, d) for p, d in files.items()))
    assert {status for _, status, _ in statuses(answer)} == {200}
    for path in ("s/000", "s/070", "s/139"):
        assert client.get(files_url(ws, path)).content == files[path]
    inline = first_column(shared_server, "SELECT hash FROM blob_bytes")
    on_disk = blob_files(shared_server.data_dir)
    hashes = {sha(d)[7:] for d in files.values()}
    assert hashes <= inline | on_disk
    assert hashes & on_disk  # past the budget the rest went to files, not to memory


# -- refused as a whole ------------------------------------------------------------------


GOOD = put_record("good.txt", b"would be applied")


@pytest.mark.parametrize(
    "body",
    [
        GOOD + b"not json\n",
        GOOD + b"[1]\n",
        GOOD + b"\n",
        GOOD + line({"op": "rename", "path": "a"}),
        GOOD + line({"op": "put", "path": "a"}),  # no size
        GOOD + line({"op": "put", "path": "a", "size": "3"}) + b"abc",
        GOOD + line({"op": "put", "path": "a", "size": -1}),
        GOOD + line({"op": "delete", "path": "a", "if_match": "7"}),
        GOOD + line({"op": "mkdir", "path": "a", "if_match": 7}),
        GOOD + line({"op": "put", "path": "a", "size": 2, "hash": "md5:00"}) + b"ab",
        GOOD + line({"op": "put", "path": "a", "size": 5}) + b"abc",  # ends inside a payload
        GOOD + b'{"op": "mkdir", "path": "a"}',  # ends inside a line
        GOOD + put_record("b", b"abc")[:-1] + b"abcXY",  # bytes after the last record
        GOOD + mkdir_record("../up"),
        GOOD + mkdir_record("a//b"),
        GOOD + mkdir_record("a/"),
        GOOD + line({"op": "mkdir", "path": "bad\u0007name"}),
        GOOD + put_record("good.txt", b"twice"),
        GOOD + put_record("caf\u00e9", b"1") + put_record("cafe\u0301", b"2"),  # NFC == NFD
        GOOD + b'{"op": "mkdir", "path": "\xff\xfe"}\n',
        GOOD + b'{"op": "put", "path": "a", "size": 1e3}\n',
        GOOD + b'{"op": "put", "path": "a", "size": NaN}\n',
        GOOD + b'{"op": "mkdir", "op": "mkdir", "path": "a"}\n',
        GOOD + b'{"op": "mkdir", "path": "' + b"a" * 70_000 + b'"}\n',
        GOOD + b"[" * 50_000 + b"\n",
        GOOD + b"\x00" * 100,
    ],
)
def test_a_malformed_stream_is_400_and_nothing_is_applied(
    client: httpx.Client, ws: str, body: bytes
) -> None:
    cursor = revision(client, ws)
    assert_error(post_batch(client, ws, body), 400, "invalid_parameter")
    assert listing(client, ws) == {} and revision(client, ws) == cursor


def test_a_batch_needs_the_record_stream_media_type(client: httpx.Client, ws: str) -> None:
    for media in ("application/octet-stream", "application/json", ""):
        response = post_batch(client, ws, GOOD, **{"Content-Type": media})
        assert_error(response, 400, "invalid_parameter")
    assert listing(client, ws) == {}


def test_another_accounts_or_a_missing_workspace_is_404(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    other = shared_server.create_account("batch-other")
    with shared_server.client(other) as stranger:
        assert_error(post_batch(stranger, ws, GOOD), 404, "not_found")
    assert_error(post_batch(client, "w-missing", GOOD), 404, "not_found")
    assert listing(client, ws) == {}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, str]]:
    args = ["--batch-max-items", "100", "--batch-max-bytes", str(8 << 20), "--max-body", "5000"]
    with ServerProcess(tmp_path_factory.mktemp("limited") / "data", extra_args=args) as proc:
        key = proc.create_account("limited")
        with proc.client(key) as http:
            caps = http.get("/api/v1/capabilities").json()
            assert caps["batch"] == {"max_items": 100, "max_bytes": 8 << 20}
            ws = http.post("/api/v1/workspaces", json={"name": "limited"}).json()["id"]
            yield http, ws


def test_past_the_announced_limits_is_413_and_nothing_is_applied(
    limited: tuple[httpx.Client, str],
) -> None:
    client, ws = limited
    hundred = [put_record(f"f{n:03d}", b"x") for n in range(100)]
    too_many = b"".join(hundred) + mkdir_record("one-more")
    assert_error(post_batch(client, ws, too_many), 413, "too_large")
    over_body = GOOD + line({"op": "put", "path": "big", "size": 5001})  # its bytes never sent
    assert_error(post_batch(client, ws, over_body), 413, "too_large")
    chunk = b"y" * 5000
    over_total = b"".join(put_record(f"t{n:04d}", chunk) for n in range((8 << 20) // 5000))
    over_total += line({"op": "put", "path": "last", "size": 5000})
    assert_error(post_batch(client, ws, over_total), 413, "too_large")
    assert listing(client, ws) == {}
    assert {s for _, s, _ in statuses(batch(client, ws, *hundred))} == {200}  # 100 is fine


def test_hostile_bodies_are_refused_never_a_server_error(client: httpx.Client, ws: str) -> None:
    rng = random.Random(5)
    pieces = [
        b"{",
        b"}",
        b"\n",
        b'"op"',
        b":",
        b'"put"',
        b'"path"',
        b'"a"',
        b",",
        b'"size"',
        b"1",
        b"99999999999999999999",
        b"-0",
        b"\xff",
        b"\\u0000",
        b"[",
        b"null",
        b"true",
    ]
    for _ in range(60):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        response = post_batch(client, ws, body)
        assert response.status_code in (200, 400, 404, 409, 412, 413), (body, response.text)
        assert "error" in response.json() or "results" in response.json()


def test_sigkill_right_after_the_answer_keeps_every_batch(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        key = server.create_account("killed")
        with server.client(key) as client:
            ws = client.post("/api/v1/workspaces", json={"name": "k"}).json()["id"]
        batches = {
            n: {f"b{n}/f{i:02d}": f"batch {n} file {i}".encode() * (1 + i * 40) for i in range(12)}
            for n in range(8)
        }
        batches[0]["b0/large"] = bytes(range(256)) * (INLINE_MAX // 64)  # a blob file

        def send(n: int) -> dict | None:
            with server.client(key) as own:
                body = b"".join(put_record(p, d) for p, d in batches[n].items())
                response = post_batch(own, ws, body)
                return batches[n] if response.status_code == 200 else None

        with ThreadPoolExecutor(4) as pool:
            answered = [files for files in pool.map(send, batches) if files]
        server.stop(signal.SIGKILL)  # no shutdown: whatever was answered must be on disk
        server.start()
        with server.client(key) as client:
            entries = listing(client, ws)
            assert len(answered) == len(batches)
            for files in answered:
                for path, data in files.items():
                    assert entries[path]["hash"] == sha(data)
                    assert client.get(files_url(ws, path)).content == data
    finally:
        server.stop()


def test_the_openapi_document_lists_the_batch_routes(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    batch_route = paths["/api/v1/workspaces/{workspace_id}/batch"]["post"]
    assert "application/vnd.syncd.records" in batch_route["requestBody"]["content"]
    read_route = paths["/api/v1/workspaces/{workspace_id}/batch-read"]["post"]
    assert "application/vnd.syncd.records" in read_route["responses"]["200"]["content"]
    assert json.dumps(batch_route)  # serialisable, as schemathesis reads it


@pytest.mark.parametrize(
    ("option", "value"), [("--batch-max-items", "99"), ("--batch-max-bytes", str((8 << 20) - 1))]
)
def test_limits_below_what_the_protocol_promises_are_refused(
    tmp_path: Path, option: str, value: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "serve", "--data-dir", str(tmp_path / "d"), option, value],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and option in done.stderr and "listening" not in done.stdout
