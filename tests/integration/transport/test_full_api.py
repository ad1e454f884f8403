"""The whole protocol against the real reference server with every extension."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

import pytest

from syncd import errors
from syncd.planner.trees import Kind
from syncd.transport import CountingProgress, MemoryUploadSessionStore
from tests.integration.transport.conftest import Live
from tests.integration.transport.helpers import MiB, file_hash, make_file


def test_capabilities_accounts_and_workspaces(full: Live) -> None:
    with full.client() as client:
        caps = client.capabilities
        assert caps.changes and caps.uploads and caps.conditional and caps.hashes == "sha256"
        assert client.accounts.me().tag == "alice"
        assert client.accounts.by_tag("alice").id == client.accounts.me().id
        made = client.workspaces.create("ws-api")
        assert client.workspaces.get(made.id).name == "ws-api"
        assert client.workspaces.resolve("ws-api").id == made.id
        assert client.workspaces.rename(made.id, "renamed").name == "renamed"
        assert client.workspaces.set_active(made.id).id == made.id  # type: ignore[union-attr]
        assert client.workspaces.active().id == made.id  # type: ignore[union-attr]
        client.workspaces.delete(made.id)
        assert client.workspaces.active() is None
        with pytest.raises(errors.WorkspaceNotFound):
            client.workspaces.get(made.id)


def test_bad_key_is_unauthorized_and_never_shown(full: Live) -> None:
    with full.client() as good:
        good.capabilities  # noqa: B018
    bad_key = "sk-wrong-" + full.key[-8:]
    from syncd.transport import Client, TransportSettings

    with (
        Client(TransportSettings(full.server.url, bad_key)) as client,
        pytest.raises(errors.Unauthorized) as info,
    ):
        client.accounts.me()
    assert bad_key not in str(info.value) and info.value.exit_code == 3


def test_small_file_round_trip(full: Live, workspace: str, tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    digest = make_file(source, 10_000)
    progress = CountingProgress()
    with full.client() as client:
        sent = client.files.upload(workspace, "docs/ä b%#?.txt", source, progress=progress)
        assert sent.hash == digest and progress.done == 10_000 and progress.finished
        entries = {e.path: e for e in client.files.list(workspace)}
        assert entries["docs"].type is Kind.DIR
        entry = entries["docs/ä b%#?.txt"]
        assert (entry.size, entry.hash) == (10_000, digest) and entry.revision
        got = client.files.download(
            workspace, "docs/ä b%#?.txt", tmp_path / "dl", expected_hash=digest
        )
        assert got.hash == digest and got.revision == entry.revision
        assert file_hash(tmp_path / "dl") == digest


def test_large_file_goes_through_a_session(full: Live, workspace: str, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    digest = make_file(source, 3 * MiB + 123)
    store = MemoryUploadSessionStore()
    progress = CountingProgress()
    with full.client(upload_sessions=store) as client:
        sent = client.files.upload(workspace, "big.bin", source, progress=progress)
    assert sent.entry is not None and sent.entry.hash == digest == sent.hash
    assert progress.done == 3 * MiB + 123
    assert store.find(workspace, "big.bin", sent.size, source.stat().st_mtime_ns) is None


def test_path_operations(full: Live, workspace: str, tmp_path: Path) -> None:
    source = tmp_path / "s"
    make_file(source, 100)
    with full.client() as client:
        client.files.upload(workspace, "s.txt", source)
        client.files.mkdir(workspace, "d/e")
        client.files.mkdir(workspace, "d/e")  # idempotent
        client.files.copy(workspace, "s.txt", "d/copy.txt")
        client.files.move(workspace, "s.txt", "d/e/moved.txt")
        with pytest.raises(errors.PathConflict):
            client.files.move(workspace, "d/copy.txt", "d/e/moved.txt")
        with pytest.raises(errors.NotFound):
            client.files.delete(workspace, "nope.txt")
        client.files.delete(workspace, "d/e")
        assert [e.path for e in client.files.list(workspace)] == ["d", "d/copy.txt"]


def test_conditional_writes_lose_races_as_412(full: Live, workspace: str, tmp_path: Path) -> None:
    source = tmp_path / "c"
    make_file(source, 100)
    with full.client() as client:
        client.files.upload(workspace, "c.txt", source, create_only=True)
        with pytest.raises(errors.PreconditionFailed):
            client.files.upload(workspace, "c.txt", source, create_only=True)
        revision = client.files.entry(workspace, "c.txt").revision  # type: ignore[union-attr]
        assert revision is not None
        client.files.upload(workspace, "c.txt", source, if_revision=revision)
        with pytest.raises(errors.PreconditionFailed):
            client.files.upload(workspace, "c.txt", source, if_revision=revision)
        with pytest.raises(errors.PreconditionFailed):
            client.files.delete(workspace, "c.txt", if_revision=revision)
        with pytest.raises(errors.PreconditionFailed):
            client.files.move(workspace, "c.txt", "d.txt", if_revision=revision)
        current = client.files.entry(workspace, "c.txt").revision  # type: ignore[union-attr]
        client.files.move(workspace, "c.txt", "d.txt", if_revision=current)
        moved = client.files.entry(workspace, "d.txt").revision  # type: ignore[union-attr]
        client.files.delete(workspace, "d.txt", if_revision=moved)
        assert list(client.files.list(workspace)) == []


def test_session_commit_is_conditional(full: Live, workspace: str, tmp_path: Path) -> None:
    source = tmp_path / "big"
    make_file(source, MiB)
    with full.client() as client:
        client.files.upload(workspace, "big", source, create_only=True)
        with pytest.raises(errors.PreconditionFailed):
            client.files.upload(workspace, "big", source, create_only=True)
        with pytest.raises(errors.PreconditionFailed):
            client.files.upload(workspace, "big", source, if_revision=999)


def test_file_changed_during_upload_is_dropped(full: Live, workspace: str, tmp_path: Path) -> None:
    source = tmp_path / "moving"
    make_file(source, 2 * MiB)

    class Editor(CountingProgress):
        def advance(self, nbytes: int) -> None:
            super().advance(nbytes)
            if self.done and not source.read_bytes().endswith(b"edit"):
                with open(source, "ab") as handle:
                    handle.write(b"edit")

    class Recording(MemoryUploadSessionStore):
        ids: ClassVar[list[str]] = []

        def remember(self, *args: object) -> None:
            self.ids.append(str(args[4]))
            super().remember(*args)  # type: ignore[arg-type]

    store = Recording()
    with full.client(upload_sessions=store) as client:
        with pytest.raises(errors.SourceChanged):
            client.files.upload(workspace, "moving", source, progress=Editor())
        assert client.files.entry(workspace, "moving") is None
    assert store.find(workspace, "moving", 2 * MiB + 4, source.stat().st_mtime_ns) is None
    with full.server.client(full.key) as http:  # the session is gone on the server too
        answer = http.get(f"/api/v1/workspaces/{workspace}/uploads/{store.ids[0]}")
    assert answer.status_code == 404


def test_download_hash_mismatch_removes_the_temp_file(
    full: Live, workspace: str, tmp_path: Path
) -> None:
    source = tmp_path / "h"
    make_file(source, 1000)
    dest = tmp_path / ".h.tmp"
    with full.client() as client:
        client.files.upload(workspace, "h", source)
        with pytest.raises(errors.PreconditionFailed):
            client.files.download(workspace, "h", dest, expected_hash="sha256:" + "0" * 64)
    assert not dest.exists()


def test_file_404_and_workspace_404_are_told_apart(
    full: Live, workspace: str, tmp_path: Path
) -> None:
    with full.client() as client:
        with pytest.raises(errors.NotFound) as info:
            client.files.download(workspace, "missing", tmp_path / "x")
        assert not isinstance(info.value, errors.WorkspaceNotFound)
        with pytest.raises(errors.WorkspaceNotFound):
            client.files.download("w-nope", "missing", tmp_path / "x")
        with pytest.raises(errors.WorkspaceNotFound):
            client.files.list("w-nope")


def test_hostile_path_arguments_never_leave(full: Live, workspace: str, tmp_path: Path) -> None:
    with full.client() as client:
        for path in ("../x", "/abs", "a//b", "a/"):
            with pytest.raises(errors.InvalidPath):
                client.files.mkdir(workspace, path)


def test_change_feed_pages_long_poll_and_reset(full: Live, workspace: str, tmp_path: Path) -> None:
    source = tmp_path / "f"
    make_file(source, 10)
    with full.client() as client:
        for name in ("a", "b", "c"):
            client.files.upload(workspace, name, source)
        pages = list(client.changes.iter_pages(workspace, 0, limit=1))
        assert len(pages) == 3 and not pages[-1].has_more
        assert [e.path for p in pages for e in p.created] == ["a", "b", "c"]
        cursor = pages[-1].end_revision
        quiet = client.changes.page(workspace, cursor, wait=1)
        assert quiet.end_revision == cursor and not quiet.created

        def later() -> None:
            with full.client() as other:
                other.files.delete(workspace, "a")

        writer = threading.Timer(0.3, later)
        writer.start()
        woken = client.changes.page(workspace, cursor, wait=20)
        writer.join()
        assert [d.path for d in woken.deleted] == ["a"]
        with pytest.raises(errors.FeedReset):
            client.changes.page(workspace, cursor + 100)


def test_one_client_many_threads(full: Live, workspace: str, tmp_path: Path) -> None:
    sizes = [1000 * (i + 1) for i in range(6)] + [700 * 1024, 900 * 1024]
    digests = {}
    for i, size in enumerate(sizes):
        digests[f"t{i}"] = make_file(tmp_path / f"t{i}", size, seed=i)
    failures: list[BaseException] = []
    with full.client(concurrency=3) as client:

        def work(name: str) -> None:
            try:
                client.files.upload(workspace, name, tmp_path / name)
                got = client.files.download(workspace, name, tmp_path / f"{name}.dl")
                assert got.hash == digests[name]
            except BaseException as exc:  # collected and re-raised below
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in digests]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
