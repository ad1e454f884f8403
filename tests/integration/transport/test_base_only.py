"""Every fallback against a ``--base-only`` server (no E1-E6, a 2 MiB body limit)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd import errors
from syncd.soak.proxy import Fault, FaultProxy
from syncd.transport import Capabilities
from tests.integration.transport.conftest import Live
from tests.integration.transport.helpers import MiB, file_hash, make_file, record_headers


@pytest.fixture
def ws(base: Live) -> str:
    with base.client() as client:
        return client.workspaces.create("b").id


@pytest.fixture
def base_proxy(base: Live) -> Iterator[FaultProxy]:
    with FaultProxy(upstream=base.server.url, seed=2).start() as fault_proxy:
        yield fault_proxy


def test_capabilities_404_means_base_only(base: Live) -> None:
    with base.client() as client:
        assert client.capabilities == Capabilities.base_only()
        assert not client.changes.supported


def test_listing_instead_of_the_feed(base: Live, ws: str, tmp_path: Path) -> None:
    make_file(tmp_path / "f", 10)
    with base.client() as client:
        client.files.upload(ws, "x/f", tmp_path / "f")
        page = client.changes.page(ws, 0)
        assert [e.path for e in page.created] == ["x", "x/f"]
        assert page.end_revision == 0 and not page.has_more
        assert page.created[1].revision is None and page.created[1].hash is None
        with pytest.raises(errors.InvalidParameter, match="no change feed"):
            client.changes.page(ws, 3)


def test_single_put_instead_of_sessions(base: Live, ws: str, tmp_path: Path) -> None:
    digest = make_file(tmp_path / "mid", int(1.5 * MiB))  # above the 512 KiB threshold
    with base.client() as client:
        lengths = record_headers(client, "content-length")
        sent = client.files.upload(ws, "mid", tmp_path / "mid")
        assert sent.hash == digest and sent.entry is None
        assert str(int(1.5 * MiB)) in lengths  # one PUT with the whole body
        got = client.files.download(ws, "mid", tmp_path / "dl")
    assert got.hash == digest and got.revision is None
    assert file_hash(tmp_path / "dl") == digest


def test_over_the_body_limit_is_refused_clearly(base: Live, ws: str, tmp_path: Path) -> None:
    make_file(tmp_path / "huge", 3 * MiB)
    with base.client() as client:
        with pytest.raises(errors.TooLarge, match="no resumable uploads") as info:
            client.files.upload(ws, "huge", tmp_path / "huge")
        assert info.value.path == "huge"
        assert client.files.entry(ws, "huge") is None


def test_create_only_is_checked_against_the_listing(base: Live, ws: str, tmp_path: Path) -> None:
    make_file(tmp_path / "c", 10)
    with base.client() as client:
        client.files.upload(ws, "c", tmp_path / "c", create_only=True)
        with pytest.raises(errors.PreconditionFailed, match="exists"):
            client.files.upload(ws, "c", tmp_path / "c", create_only=True)


def test_expected_entry_guards_writes(base: Live, ws: str, tmp_path: Path) -> None:
    make_file(tmp_path / "e", 10)
    make_file(tmp_path / "e2", 20, seed=2)
    with base.client() as client:
        client.files.upload(ws, "e", tmp_path / "e")
        seen = client.files.entry(ws, "e")
        assert seen is not None
        client.files.upload(ws, "e", tmp_path / "e2", expected=seen)  # still as seen: ok
        with pytest.raises(errors.PreconditionFailed, match="changed on the server"):
            client.files.upload(ws, "e", tmp_path / "e", expected=seen)
        with pytest.raises(errors.PreconditionFailed):
            client.files.delete(ws, "e", expected=seen)
        with pytest.raises(errors.PreconditionFailed, match="no longer"):
            client.files.delete(ws, "gone", expected=seen)
        client.files.delete(ws, "e", expected=client.files.entry(ws, "e"))
        assert client.files.entry(ws, "e") is None


def test_conditional_headers_are_not_sent(base: Live, ws: str, tmp_path: Path) -> None:
    make_file(tmp_path / "n", 10)
    with base.client() as client:
        if_match = record_headers(client, "if-match")
        if_none = record_headers(client, "if-none-match")
        client.files.upload(ws, "n", tmp_path / "n", create_only=True)
        client.files.delete(ws, "n", if_revision=None)
    assert set(if_match) == {None} and set(if_none) == {None}


def test_download_without_etag_restarts_from_zero(
    base: Live, base_proxy: FaultProxy, ws: str, tmp_path: Path
) -> None:
    digest = make_file(tmp_path / "r", MiB)
    base_proxy.add(Fault("truncate", method="GET", path="/files/r$", after_bytes=300_000))
    with base.client(url=base_proxy.url) as client:
        client.files.upload(ws, "r", tmp_path / "r")
        ranges = record_headers(client, "range")
        got = client.files.download(ws, "r", tmp_path / "r.dl")
    assert got.hash == digest and file_hash(tmp_path / "r.dl") == digest
    assert ranges == [None, None]  # no ETag, so no Range: the second GET starts again
