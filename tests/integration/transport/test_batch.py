"""The client's batch API (E5, E6) against the real server, and through the fault proxy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd import errors
from syncd.soak.proxy import Fault, FaultProxy
from syncd.transport import (
    BatchLimits,
    DeletePath,
    MakeDir,
    PutFile,
    WriteState,
)
from tests.integration.transport.conftest import Live
from tests.integration.transport.helpers import MiB, file_hash, make_file

BATCH = r"/batch$"
READ = r"/batch-read$"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_capabilities_announce_the_batch_limits(full: Live, base: Live) -> None:
    with full.client() as client:
        assert client.capabilities.batch == BatchLimits(1000, 64 * MiB)
        assert client.batch.limits == BatchLimits(1000, 64 * MiB)
    with base.client() as client:
        assert client.batch.limits is None
        with pytest.raises(errors.UsageError):
            client.batch.write("w-any", [MakeDir("d")])


def test_a_batch_write_gives_one_typed_result_per_item(
    full: Live, workspace: str, tmp_path: Path
) -> None:
    large = tmp_path / "large.bin"
    large_hash = make_file(large, 3 * MiB, seed=4)  # streamed, not read ahead
    with full.client() as client:
        client.files.upload(workspace, "taken.txt", write(tmp_path, "t", b"theirs"))
        client.files.upload(workspace, "plain", write(tmp_path, "p", b"a file"))
        taken = client.files.entry(workspace, "taken.txt")
        assert taken is not None
        items = [
            PutFile("docs/a.txt", write(tmp_path, "a", b"A\n")),
            PutFile("docs/large.bin", large),
            PutFile("taken.txt", write(tmp_path, "m", b"mine"), if_revision=0),
            PutFile("plain/below", write(tmp_path, "b", b"b")),
            DeletePath("missing"),
            DeletePath("plain", if_revision=taken.revision + 99),
            MakeDir("made/deep"),
            PutFile("gone.txt", tmp_path / "does-not-exist"),
        ]
        result = client.batch.write(workspace, items)
        states = [(r.item.path, r.state) for r in result.results]
        assert states == [
            ("docs/a.txt", WriteState.APPLIED),
            ("docs/large.bin", WriteState.APPLIED),
            ("taken.txt", WriteState.REFUSED),
            ("plain/below", WriteState.REFUSED),
            ("missing", WriteState.REFUSED),
            ("plain", WriteState.REFUSED),
            ("made/deep", WriteState.APPLIED),
            ("gone.txt", WriteState.NOT_SENT),
        ]
        errors_by_path = {r.item.path: type(r.error) for r in result.results if r.error}
        assert errors_by_path == {
            "taken.txt": errors.PreconditionFailed,
            "plain/below": errors.PathConflict,
            "missing": errors.NotFound,
            "plain": errors.PreconditionFailed,
            "gone.txt": errors.ItemError,
        }
        assert not result.ambiguous
        entries = {e.path: e for e in client.files.list(workspace)}
        assert result.results[0].entry == entries["docs/a.txt"]
        assert entries["docs/large.bin"].hash == large_hash
        assert entries["made/deep"].revision == result.revision == entries["docs/a.txt"].revision
        dest = tmp_path / "back"
        assert client.files.download(workspace, "docs/large.bin", dest).hash == large_hash


def test_limits_are_checked_before_anything_is_sent(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    small = write(tmp_path, "s", b"s")
    with full.client(url=proxy.url) as client:
        with pytest.raises(errors.TooLarge):
            client.batch.write(workspace, [MakeDir(f"d{n}") for n in range(1001)])
        with pytest.raises(errors.InvalidParameter):
            client.batch.write(workspace, [PutFile("caf\u00e9", small), MakeDir("cafe\u0301")])
        sparse = tmp_path / "sparse"
        with open(sparse, "wb") as handle:
            handle.truncate(65 * MiB)  # past max_bytes without writing 65 MiB
        with pytest.raises(errors.TooLarge):
            client.batch.write(workspace, [PutFile("big", sparse)])
        assert proxy.count("POST", BATCH) == 0
        items = [PutFile(f"f{n}", small) for n in range(2500)] + [PutFile("big", sparse)]
        batches, alone = client.batch.split(items)
        assert [len(b) for b in batches] == [1000, 1000, 500]
        assert alone == [PutFile("big", sparse)]


def test_a_lost_answer_of_an_unconditional_batch_is_ambiguous_not_retried(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    proxy.add(Fault("reset_response", method="POST", path=BATCH))
    items = [PutFile("u/a", write(tmp_path, "a", b"a")), DeletePath("u/none"), MakeDir("u/d")]
    with full.client(url=proxy.url) as client:
        result = client.batch.write(workspace, items)
        assert result.ambiguous and result.revision is None
        assert {r.state for r in result.results} == {WriteState.UNKNOWN}
        assert proxy.count("POST", BATCH) == 1  # never sent again blindly
        paths = {e.path for e in client.files.list(workspace)}
        assert {"u/a", "u/d"} <= paths  # the server had applied it: the answer was lost


def test_a_lost_answer_of_a_conditional_batch_is_retried_and_resolved(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    with full.client() as client:
        client.files.upload(workspace, "c/old", write(tmp_path, "o", b"old"))
        client.files.upload(workspace, "c/doomed", write(tmp_path, "x", b"doomed"))
        entries = {e.path: e for e in client.files.list(workspace)}
    proxy.add(Fault("reset_response", method="POST", path=BATCH))
    new = write(tmp_path, "n", b"new")
    items = [
        PutFile("c/created", write(tmp_path, "c", b"created"), if_revision=0),
        PutFile("c/old", new, if_revision=entries["c/old"].revision),
        DeletePath("c/doomed", if_revision=entries["c/doomed"].revision),
        MakeDir("c/dir"),
    ]
    with full.client(url=proxy.url) as client:
        result = client.batch.write(workspace, items)
        assert proxy.count("POST", BATCH) == 2  # safe to send again: every record conditional
        assert [r.state for r in result.results] == [WriteState.APPLIED] * 4
        assert result.results[1].entry is not None
        assert result.results[1].entry.hash == file_hash(new)  # its own earlier attempt
        paths = {e.path for e in client.files.list(workspace)}
        assert {"c/created", "c/old", "c/dir"} <= paths and "c/doomed" not in paths


def test_a_refused_connection_or_503_is_retried_even_when_unconditional(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    proxy.add(Fault("status", method="POST", path=BATCH, status=503))
    with full.client(url=proxy.url) as client:
        result = client.batch.write(workspace, [PutFile("r/a", write(tmp_path, "a", b"a"))])
        assert [r.state for r in result.results] == [WriteState.APPLIED]
        assert proxy.count("POST", BATCH) == 2


def test_a_file_that_changes_while_it_is_sent_is_dropped_and_the_rest_goes(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    growing = tmp_path / "growing.bin"
    make_file(growing, 32 * MiB, seed=9)  # larger than the socket buffers: read as it goes

    def edit() -> None:  # runs once the request head reached the proxy, the body not yet
        with open(growing, "ab") as handle:
            handle.write(b"edited")

    proxy.add(Fault("hook", method="POST", path=BATCH, hook=edit))
    items = [PutFile("g/growing.bin", growing), PutFile("g/b", write(tmp_path, "b", b"b"))]
    with full.client(url=proxy.url, timeout=60) as client:
        result = client.batch.write(workspace, items)
        assert [r.state for r in result.results] == [WriteState.NOT_SENT, WriteState.APPLIED]
        assert isinstance(result.results[0].error, errors.SourceChanged)
        paths = {e.path for e in client.files.list(workspace)}
        assert "g/b" in paths and "g/growing.bin" not in paths  # no half file, ever


def test_a_batch_read_yields_each_path_checked_in_order(
    full: Live, workspace: str, tmp_path: Path
) -> None:
    large = tmp_path / "large"
    large_hash = make_file(large, 2 * MiB, seed=3)
    with full.client() as client:
        put = client.batch.write(
            workspace,
            [
                PutFile("r/small", write(tmp_path, "s", b"small\n")),
                PutFile("r/empty", write(tmp_path, "e", b"")),
                PutFile("r/large", large),
                MakeDir("r/dir"),
            ],
        )
        assert all(r.is_applied for r in put.results)
        asked = ["r/large", "r/dir", "r/missing", "r/small", "r/empty"]
        with client.batch.read(workspace, asked) as items:
            seen = []
            for item in items:
                content = b"".join(item.chunks()) if item.entry else None
                size = None if content is None else len(content)
                seen.append((item.path, type(item.error), size))
                if item.path == "r/small":
                    assert item.data == b"small\n"
                if item.path == "r/large":
                    assert item.data is None and item.entry.hash == large_hash  # streamed
        assert seen == [
            ("r/large", type(None), 2 * MiB),
            ("r/dir", errors.PathConflict, None),
            ("r/missing", errors.NotFound, None),
            ("r/small", type(None), 6),
            ("r/empty", type(None), 0),
        ]
        with pytest.raises(errors.WorkspaceNotFound):
            list(client.batch.read("w-missing", ["a"]))
        with pytest.raises(errors.TooLarge):
            client.batch.read(workspace, [f"p{n}" for n in range(1001)])


@pytest.mark.parametrize("action", ["reset_response", "truncate"])
def test_a_broken_batch_read_is_asked_again_for_what_is_left(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path, action: str
) -> None:
    large = tmp_path / "large"
    make_file(large, 3 * MiB, seed=5)
    with full.client() as client:
        client.batch.write(
            workspace,
            [
                PutFile("b/first", write(tmp_path, "f", b"first")),
                PutFile("b/large", large),
                PutFile("b/last", write(tmp_path, "l", b"last")),
            ],
        )
    proxy.add(Fault(action, method="POST", path=READ, after_bytes=MiB))
    got: dict[str, bytes] = {}
    yielded: list[str] = []
    with (
        full.client(url=proxy.url) as client,
        client.batch.read(workspace, ["b/first", "b/large", "b/last"]) as items,
    ):
        for item in items:
            yielded.append(item.path)
            try:
                got[item.path] = b"".join(item.chunks())
            except errors.ConnectionLost:
                continue  # its bytes are void; it comes again from the next answer
    assert yielded == ["b/first", "b/large", "b/large", "b/last"]
    assert got == {"b/first": b"first", "b/large": large.read_bytes(), "b/last": b"last"}
    assert proxy.count("POST", READ) == 2


def test_a_batch_read_stopped_early_gives_its_connection_back(
    full: Live, workspace: str, tmp_path: Path
) -> None:
    large = tmp_path / "large"
    make_file(large, 4 * MiB, seed=6)
    with full.client(concurrency=1) as client:
        client.batch.write(workspace, [PutFile("e/large", large), MakeDir("e/d")])
        for _ in range(5):  # more than the pool holds, if a read kept its connection
            with client.batch.read(workspace, ["e/large", "e/d"]) as items:
                next(iter(items))
        assert client.files.entry(workspace, "e/d") is not None
    assert os.path.getsize(large) == 4 * MiB
