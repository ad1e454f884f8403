"""A remote tree that contradicts itself is refused whole, before any plan (exit 4).

Found by the hostile-server tests: a listing with a file ``f`` and a file ``f/child`` made
the client create a folder ``f`` and move the server's ``f`` to a conflict copy; a path
listed as a file and as a directory had the later entry win silently. Planning on such a
tree turns the server's mistake into local changes. Now the listing (and each feed page,
checked against the client's mirror too) is refused as a protocol error: exit 4, one line
naming the paths, nothing changed in the folder and nothing written to the server.
"""

from __future__ import annotations

import hashlib
import unicodedata

import pytest

from tests.faults.test_hostile_server import (
    FULL_CAPABILITIES,
    _dir,
    _file,
    hostile,
    snapshot,
    sync_against,
)

__all__ = ["hostile"]

NFC = unicodedata.normalize("NFC", "café.txt")
NFD = unicodedata.normalize("NFD", "café.txt")


def _entry(path: str, data: bytes, revision: int) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    return {**_file(path, data), "revision": revision, "hash": f"sha256:{digest}"}


def _page(end: int, created: list[dict[str, object]], *, has_more: bool = False) -> dict:
    return {
        "end_revision": end,
        "created": created,
        "updated": [],
        "deleted": [],
        "has_more": has_more,
    }


def _refused(proc, *names: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 4, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "contradicts itself" in lines[0], proc.stderr
    for name in names:
        assert repr(name) in lines[0], (name, lines[0])


@pytest.fixture
def folder(tmp_path):
    """A folder with a file of the user's, which a refused sync must leave alone."""
    path = tmp_path / "folder"
    path.mkdir()
    (path / "mine.txt").write_text("the user's own file")
    return path


def _user_files(folder) -> dict[str, str]:
    return {p: h for p, h in snapshot(folder).items() if not p.startswith(".syncd-")}


@pytest.mark.parametrize(
    ("entries", "names"),
    [
        ([_file("f", b"a file"), _file("f/child", b"below a file")], ("f", "f/child")),
        ([_file("f", b"a file"), _file("f/g/h", b"deeper")], ("f", "f/g/h")),
        ([_file("same", b"as a file"), _dir("same")], ("same",)),
        ([_file(NFC, b"one"), _file(NFD, b"other")], (NFC,)),
    ],
    ids=["file-with-child", "file-with-grandchild", "file-and-directory", "nfc-nfd-differ"],
)
def test_contradicting_listing_is_refused_before_any_plan(
    hostile, tmp_path, folder, entries, names
):
    app, url = hostile
    app.entries = [_dir("ok"), _file("ok/good.txt", b"good content"), *entries]
    before = _user_files(folder)
    proc = sync_against(url, folder, tmp_path / "state")
    _refused(proc, *names)
    assert _user_files(folder) == before
    assert app.writes() == []
    assert not any(r.startswith("GET /api/v1/workspaces/w-hostile/files/") for r in app.requests)


def test_repeated_entries_that_agree_are_one_entry(hostile, tmp_path, folder):
    app, url = hostile
    app.entries = [_file("good.txt", b"good content")] * 2 + [_dir("sub"), _dir("sub")]
    app.contents = {"good.txt": b"good content"}
    proc = sync_against(url, folder, tmp_path / "state")
    assert proc.returncode == 0, proc.stderr
    assert (folder / "good.txt").read_bytes() == b"good content"


def test_contradicting_feed_page_is_refused(hostile, tmp_path, folder):
    app, url = hostile
    app.capabilities = FULL_CAPABILITIES
    page = _page(2, [_entry("f", b"a file", 1), _entry("f/child", b"below", 2)])
    app.feed = lambda _from: page
    proc = sync_against(url, folder, tmp_path / "state")
    _refused(proc, "f", "f/child")
    assert _user_files(folder) == {"mine.txt": hashlib.sha256(b"the user's own file").hexdigest()}
    assert app.writes() == []


def test_feed_page_contradicting_the_mirror_is_refused_and_not_applied(hostile, tmp_path, folder):
    app, url = hostile
    app.capabilities = FULL_CAPABILITIES
    pages = {
        0: _page(1, [_entry("f", b"a file", 1)], has_more=True),
        1: _page(2, [_entry("f/child", b"below a file the feed never deleted", 2)]),
    }
    asked: list[int] = []

    def feed(start: int) -> dict:
        asked.append(start)
        return pages.get(start, _page(start, []))

    app.feed = feed
    before = _user_files(folder)
    for _ in range(2):  # the cursor stays before the refused page: it is asked again
        proc = sync_against(url, folder, tmp_path / "state")
        _refused(proc, "f", "f/child")
    assert asked == [0, 1, 1]
    assert _user_files(folder) == before
    assert app.writes() == []
    # once the server tells a consistent story, the same client syncs
    pages[1] = _page(2, [], has_more=False)
    app.contents = {"f": b"a file"}
    proc = sync_against(url, folder, tmp_path / "state")
    assert proc.returncode == 0, proc.stderr
    assert (folder / "f").read_bytes() == b"a file"


def test_directory_turned_file_over_its_children_is_refused(hostile, tmp_path, folder):
    app, url = hostile
    app.capabilities = FULL_CAPABILITIES
    directory = {**_dir("d"), "revision": 1}
    pages = {
        0: _page(1, [directory, _entry("d/kept.txt", b"child", 1)], has_more=True),
        1: {**_page(2, []), "updated": [_entry("d", b"now a file", 2)]},
    }
    app.feed = lambda start: pages.get(start, _page(start, []))
    proc = sync_against(url, folder, tmp_path / "state")
    _refused(proc, "d", "d/kept.txt")
    assert app.writes() == []
