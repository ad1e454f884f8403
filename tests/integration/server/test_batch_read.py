"""E6: batch reads against the real server: one record per path, one committed state, and
blobs that collection cannot take away while the answer is being sent."""

from __future__ import annotations

import time
from collections.abc import Iterable

import httpx
import pytest

from syncd.protocol.batch import ReadRecord, parse_read
from syncd.protocol.records import Limits, RecordDecoder
from syncd.protocol.streams import iter_records
from syncd.server.blobs import INLINE_MAX
from syncd.soak.harness import ServerProcess
from tests.integration.server.batching import sha
from tests.integration.server.conftest import assert_error, files_url, first_column, listing, put


def read_url(ws: str) -> str:
    return f"/api/v1/workspaces/{ws}/batch-read"


def decode(chunks: Iterable[bytes], count: int) -> list[tuple[ReadRecord, bytes]]:
    decoder = RecordDecoder(parse_read, Limits(expected=count))
    return [(record, payload.read()) for record, payload in iter_records(chunks, decoder)]


def db_rows(server: ServerProcess, sql: str) -> set[str]:
    return first_column(server, sql)


def until(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_one_record_per_path_in_request_order(client: httpx.Client, ws: str) -> None:
    large = bytes(range(256)) * (INLINE_MAX // 100)
    files = {"a.txt": b"line\nline\n", "caf\u00e9": b"nfc", "empty": b"", "d/large": large}
    for path, data in files.items():
        assert put(client, ws, path, data).status_code == 204
    entries = listing(client, ws)
    asked = ["d/large", "d", "missing", "a.txt/below", "cafe\u0301", "empty", "a.txt"]
    response = client.post(read_url(ws), json={"paths": asked})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.syncd.records"
    answer = decode([response.content], len(asked))
    assert [(r.path, r.status, r.error) for r, _ in answer] == [
        ("d/large", 200, None),
        ("d", 409, "conflict"),
        ("missing", 404, "not_found"),
        ("a.txt/below", 404, "not_found"),
        ("caf\u00e9", 200, None),  # asked in NFD, answered under the stored NFC name
        ("empty", 200, None),
        ("a.txt", 200, None),
    ]
    for record, data in answer:
        if record.status == 200:
            entry = entries[record.path]
            assert data == files[record.path] and record.hash == sha(data) == entry["hash"]
            assert (record.size, record.revision, record.modified_time) == (
                entry["size"],
                entry["revision"],
                entry["modified_time"],
            )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"paths": []}',
        b'{"paths": "a"}',
        b'{"paths": [1]}',
        b'{"paths": [null]}',
        b'{"paths": ["../a"]}',
        b'{"paths": ["a/"]}',
        b'{"paths": ["a", "a"]}',
        '{"paths": ["caf\u00e9", "cafe\u0301"]}'.encode(),
        b'{"paths": ["\\ud800"]}',
        b'{"paths": ["a"], "paths": ["b"]}',
        b'{"paths": [1e400]}',
        b'{"paths": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"[" * 100_000,
        b"\xff",
    ],
)
def test_a_malformed_request_is_400(client: httpx.Client, ws: str, body: bytes) -> None:
    response = client.post(read_url(ws), content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_parameter")


def test_more_paths_than_max_items_is_413_and_strangers_get_404(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    too_many = {"paths": [f"p{n}" for n in range(1001)]}
    assert_error(client.post(read_url(ws), json=too_many), 413, "too_large")
    assert client.post(read_url(ws), json={"paths": too_many["paths"][:1000]}).status_code == 200
    assert_error(client.post(read_url("w-missing"), json={"paths": ["a"]}), 404, "not_found")
    other = shared_server.create_account("reader-other")
    with shared_server.client(other) as stranger:
        assert_error(stranger.post(read_url(ws), json={"paths": ["a"]}), 404, "not_found")


def test_the_answer_is_one_state_even_while_writes_and_collection_go_on(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    data_dir = shared_server.data_dir
    first = b"F" * (24 << 20)  # larger than the socket buffers: the answer stalls in it
    old_small, old_large = b"small, kept in the database", b"L" * (INLINE_MAX * 2)
    canary = b"C" * (INLINE_MAX * 2)  # not asked for: its collection shows one ran
    for path, data in (("first", first), ("small", old_small), ("large", old_large)):
        assert put(client, ws, path, data).status_code == 204
    assert put(client, ws, "canary", canary).status_code == 204
    asked = ["first", "small", "large", "gone"]
    assert put(client, ws, "gone", b"deleted during the answer").status_code == 204
    before = listing(client, ws)
    with client.stream("POST", read_url(ws), json={"paths": asked}) as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        head = next(chunks)  # the answer has begun: its state is fixed from here on
        assert put(client, ws, "small", b"new small").status_code == 204
        assert put(client, ws, "large", b"new large" * 10_000).status_code == 204
        assert put(client, ws, "canary", b"new canary").status_code == 204
        assert client.delete(files_url(ws, "gone")).status_code == 204
        canary_file = data_dir / "blobs" / sha(canary)[7:9] / sha(canary)[9:11] / sha(canary)[7:]
        until(lambda: not canary_file.exists(), "a collection of freed blobs")
        answer = decode([head, *chunks], len(asked))
    assert [(r.path, r.status) for r, _ in answer] == [
        ("first", 200),
        ("small", 200),
        ("large", 200),
        ("gone", 200),
    ]
    contents = dict(
        zip(asked, [first, old_small, old_large, b"deleted during the answer"], strict=True)
    )
    for record, data in answer:
        assert data == contents[record.path] and record.hash == sha(data)
        assert record.revision == before[record.path]["revision"]
    # once the answer is over, its pins go and the old contents are collected after all
    until(lambda: not db_rows(shared_server, "SELECT hash FROM blob_pins"), "the pins to go")
    old_large_file = data_dir / "blobs" / sha(old_large)[7:9] / sha(old_large)[9:11]
    until(lambda: not (old_large_file / sha(old_large)[7:]).exists(), "the old blob to go")
    small_rows = f"SELECT hash FROM blob_bytes WHERE hash = '{sha(old_small)[7:]}'"
    until(lambda: not db_rows(shared_server, small_rows), "the old small blob to go")


def test_an_answer_cut_short_drops_its_pins(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    assert put(client, ws, "huge", b"H" * (24 << 20)).status_code == 204
    assert put(client, ws, "after", b"A" * 10).status_code == 204
    with client.stream("POST", read_url(ws), json={"paths": ["huge", "after"]}) as response:
        chunks = response.iter_raw()  # kept: a dropped iterator closes the stream at once
        next(chunks)
        assert db_rows(shared_server, "SELECT hash FROM blob_pins")
    # the client hung up in the middle of the first payload
    until(
        lambda: not db_rows(shared_server, "SELECT hash FROM blob_pins"),
        "the pins of an abandoned answer to go",
    )
    assert client.post(read_url(ws), json={"paths": ["after"]}).status_code == 200


def test_a_refused_put_of_the_same_bytes_leaves_a_pinned_blob_alone(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    first = b"F" * (24 << 20)  # the answer stalls in it, as above
    shared = bytes(range(256)) * (INLINE_MAX // 64)  # a blob file
    for path, data in (("first", first), ("x", shared), ("taken", b"t")):
        assert put(client, ws, path, data).status_code == 204
    with client.stream("POST", read_url(ws), json={"paths": ["first", "x"]}) as response:
        chunks = response.iter_raw()
        head = next(chunks)
        assert put(client, ws, "x", b"other").status_code == 204  # unreferenced, pinned
        # the same bytes again, refused after they were placed: the clean-up must not
        # take the pinned blob's file
        refused = put(client, ws, "taken", shared, **{"If-None-Match": "*"})
        assert refused.status_code == 412
        answer = decode([head, *chunks], 2)
    assert answer[1][1] == shared and answer[1][0].hash == sha(shared)


def test_an_answer_of_small_files_needs_no_pins_and_keeps_its_state(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    """Small files kept in the database are read with their entries in one snapshot: no
    pin is taken, and overwriting and deleting them while the answer is still being sent
    (their bytes rows go at once) changes nothing in it."""
    files = {f"s/{n:03d}": bytes([n]) * (INLINE_MAX - 1 - n) for n in range(100)}  # ~6 MiB
    for path, data in files.items():
        assert put(client, ws, path, data).status_code == 204
    before = listing(client, ws)
    with client.stream("POST", read_url(ws), json={"paths": list(files)}) as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        head = next(chunks)  # the rest of the answer waits in the socket buffers
        assert not db_rows(shared_server, "SELECT hash FROM blob_pins")
        for path in list(files)[::2]:
            assert put(client, ws, path, b"changed").status_code == 204
        for path in list(files)[1::2]:
            assert client.delete(files_url(ws, path)).status_code == 204
        old = f"SELECT hash FROM blob_bytes WHERE hash = '{sha(files['s/099'])[7:]}'"
        assert not db_rows(shared_server, old)  # gone from the database already
        answer = decode([head, *chunks], len(files))
    assert [record.path for record, _ in answer] == list(files)
    for record, data in answer:
        assert record.status == 200 and data == files[record.path]
        assert record.revision == before[record.path]["revision"]
