"""Downloads that continue a partial kept by an earlier process, keep one for a later
process, stop at the listed size, or only hash what they read (real server, fault proxy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd import errors
from syncd.soak.proxy import Fault, FaultProxy
from tests.integration.transport.conftest import Live
from tests.integration.transport.helpers import MiB, file_hash, make_file, record_headers

SIZE = 2 * MiB


def _etag(full: Live, workspace: str, path: str) -> str:
    with full.server.client(full.key) as http:
        return http.get(f"/api/v1/workspaces/{workspace}/files/{path}").headers["etag"]


def test_a_kept_partial_is_continued_with_range(full: Live, workspace: str, tmp_path: Path) -> None:
    digest = make_file(tmp_path / "src", SIZE, seed=3)
    with full.client() as client:
        client.files.upload(workspace, "p", tmp_path / "src")
        part = tmp_path / "p.part"
        part.write_bytes((tmp_path / "src").read_bytes()[:700_000])
        seen: list[str] = []
        ranges = record_headers(client, "range")
        got = client.files.download(
            workspace,
            "p",
            part,
            expected_hash=digest,
            expected_size=SIZE,
            resume_etag=_etag(full, workspace, "p"),
            on_etag=seen.append,
        )
    assert got.hash == digest and file_hash(part) == digest and got.size == SIZE
    assert ranges == ["bytes=700000-"] and seen == []  # same ETag: nothing new to record


def test_a_partial_of_another_etag_starts_again(full: Live, workspace: str, tmp_path: Path) -> None:
    digest = make_file(tmp_path / "src", SIZE, seed=4)
    with full.client() as client:
        client.files.upload(workspace, "q", tmp_path / "src")
        part = tmp_path / "q.part"
        part.write_bytes(b"bytes of an older version" * 1000)
        seen: list[str] = []
        ranges = record_headers(client, "range")
        got = client.files.download(
            workspace, "q", part, expected_hash=digest, resume_etag='"999999"', on_etag=seen.append
        )
    assert got.hash == digest and file_hash(part) == digest
    assert ranges[0] is not None and ranges[-1] is None  # refused range, then whole
    assert seen == [_etag(full, workspace, "q")]


def test_a_complete_partial_needs_no_request(full: Live, workspace: str, tmp_path: Path) -> None:
    digest = make_file(tmp_path / "src", SIZE, seed=5)
    with full.client() as client:
        client.files.upload(workspace, "c", tmp_path / "src")
        part = tmp_path / "c.part"
        part.write_bytes((tmp_path / "src").read_bytes())
        ranges = record_headers(client, "range")
        got = client.files.download(
            workspace, "c", part, expected_hash=digest, expected_size=SIZE, resume_etag='"1"'
        )
    assert got.hash == digest and ranges == []


def test_a_broken_download_keeps_its_partial_for_a_caller_that_resumes(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    make_file(tmp_path / "src", SIZE, seed=6)
    with full.client() as direct:
        direct.files.upload(workspace, "k", tmp_path / "src")
    for keeps in (True, False):
        proxy.add(Fault("reset_response", method="GET", path="/files/k$", after_bytes=1_200_000))
        proxy.add(Fault("status", method="GET", path="/files/k$", status=503, times=None))
        part = tmp_path / f"k-{keeps}.part"
        seen: list[str] = []
        with (
            full.client(url=proxy.url, max_retries=0) as client,
            pytest.raises(errors.ServerUnreachable),
        ):
            client.files.download(workspace, "k", part, on_etag=seen.append if keeps else None)
        proxy.clear()
        if keeps:
            assert seen == [_etag(full, workspace, "k")]
            assert MiB <= part.stat().st_size < SIZE  # the whole blocks that arrived
        else:
            assert not part.exists()


def test_reading_stops_at_the_listed_size(full: Live, workspace: str, tmp_path: Path) -> None:
    make_file(tmp_path / "src", SIZE, seed=7)
    with full.client() as client:
        client.files.upload(workspace, "z", tmp_path / "src")
        for listed in (SIZE - 1, SIZE + 1):  # a listing older than the file
            dest = tmp_path / f"z-{listed}"
            with pytest.raises(errors.PreconditionFailed, match=f"lists {listed} bytes"):
                client.files.download(workspace, "z", dest, expected_size=listed)
            assert not dest.exists()


def test_without_a_destination_only_the_hash_is_computed(
    full: Live, workspace: str, tmp_path: Path
) -> None:
    digest = make_file(tmp_path / "src", SIZE, seed=8)
    with full.client() as client:
        client.files.upload(workspace, "h", tmp_path / "src")
        before = sorted(tmp_path.iterdir())
        got = client.files.download(workspace, "h", None, expected_size=SIZE)
    assert got.hash == digest and got.size == SIZE
    assert sorted(tmp_path.iterdir()) == before
