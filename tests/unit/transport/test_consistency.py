"""One remote tree, never two: which listings and feed pages are refused, and which pass."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest

from syncd.errors import ServerProtocolError
from syncd.planner.trees import Kind
from syncd.transport.consistency import settle
from syncd.transport.models import Entry

T = "2026-11-22T10:00:00+00:00"


def f(path: str, size: int = 1, revision: int | None = None) -> Entry:
    return Entry(path, Kind.FILE, size, T, revision)


def d(path: str) -> Entry:
    return Entry(path, Kind.DIR, None, None)


class Tree:
    """A ``consistency.Before`` over a plain dict, as the mirror is one."""

    def __init__(self, *entries: Entry) -> None:
        self.kinds_of = {e.path: e.type for e in entries}
        self.asked: list[set[str]] = []

    def kinds(self, paths: Iterable[str]) -> Mapping[str, Kind]:
        wanted = set(paths)
        self.asked.append(wanted)
        return {p: k for p, k in self.kinds_of.items() if p in wanted}

    def below(self, path: str) -> Iterable[str]:
        return [p for p in self.kinds_of if p.startswith(path + "/")]


@pytest.mark.parametrize(
    "entries",
    [
        [d("a"), f("a/b"), f("c")],
        [f("a/b/c")],  # parents implied
        [f("x"), f("x")],  # agreeing repeats
        [d("x"), Entry("x", Kind.DIR, None, T)],  # a directory's time does not contradict
    ],
)
def test_consistent_listings_pass(entries: list[Entry]) -> None:
    kept = settle(entries, what="GET files")
    assert [e.path for e in kept] == list(dict.fromkeys(e.path for e in entries))


@pytest.mark.parametrize(
    ("entries", "names"),
    [
        ([f("f"), f("f/child")], ("'f'", "'f/child'")),
        ([f("f/child"), f("f")], ("'f'", "'f/child'")),
        ([f("f"), d("f/g"), f("f/g/h")], ("'f'",)),
        ([f("x"), d("x")], ("'x'", "a file and a directory")),
        ([f("x", 1), f("x", 2)], ("'x'", "two different files")),
        ([f("x", 1, 3), f("x", 1, 4)], ("two different files",)),
    ],
)
def test_contradicting_listings_are_refused(entries: list[Entry], names: tuple[str, ...]) -> None:
    with pytest.raises(ServerProtocolError) as info:
        settle(entries, what="GET files of w")
    text = str(info.value)
    assert text.startswith("GET files of w: ") and info.value.exit_code == 4
    assert all(name in text for name in names), text


def test_a_page_is_checked_against_the_tree_it_applies_to() -> None:
    before = Tree(d("dir"), f("dir/a"), f("file"))
    settle([f("dir/b")], what="p", before=before)  # into a directory: fine
    with pytest.raises(ServerProtocolError, match="'file' is a file, yet 'file/x'"):
        settle([f("file/x")], what="p", before=before)
    with pytest.raises(ServerProtocolError, match="'file' is a file, yet 'file/x/y'"):
        settle([f("file/x/y")], what="p", before=before)


def test_a_deleted_path_does_not_contradict() -> None:
    before = Tree(d("dir"), f("dir/a"), f("file"))
    settle([d("file"), f("file/x")], what="p", before=before)  # replaced by a directory
    settle([f("file/x")], what="p", deleted=["file"], before=before)
    settle([f("dir")], what="p", deleted=["dir"], before=before)  # directory -> file
    settle([f("dir")], what="p", deleted=["dir/a"], before=before)  # its child went first


def test_a_file_over_a_directory_with_children_is_refused() -> None:
    before = Tree(d("dir"), f("dir/a"))
    with pytest.raises(ServerProtocolError, match="'dir' is a file, yet 'dir/a'"):
        settle([f("dir")], what="p", before=before)


def test_the_tree_is_asked_only_about_what_the_page_does_not_settle() -> None:
    before = Tree(d("a"))
    settle([d("a"), f("a/x"), f("b/c/y")], what="p", deleted=["b/c"], before=before)
    assert before.asked == [{"a/x", "b"}]  # "a" is in the page, "b/c" deleted by it
