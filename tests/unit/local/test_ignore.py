"""ignore.py: .syncdignore rules and the built-in list, one row per pattern."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from syncd.errors import UsageError
from syncd.local.ignore import (
    BUILTIN_PATTERNS,
    TEMP_PREFIX,
    Ignore,
    is_builtin_ignored,
    is_our_temp_file,
    is_temp_name,
    new_temp_name,
)

BUILTIN_ROWS = [
    # (path, ignored?)
    (".syncd-tmp-0123456789abcdef", True),
    ("docs/.syncd-tmp-anything", True),
    (".syncd-root", True),
    ("sub/.syncd-root", False),  # the marker counts only at the top
    (".~lock.report.odt#", True),
    ("~$report.docx", True),
    ("a/.notes.txt.swp", True),
    (".notes.txt.swo", True),
    (".x.swx", True),
    (".#draft.org", True),
    ("pics/.DS_Store", True),
    ("pics/Thumbs.db", True),
    (".fuse_hidden000001a200000001", True),
    (".nfs000000000123456700000001", True),
    # plausibly a user's only copy: synced
    ("movie.part", False),
    ("file.crdownload", False),
    ("notes.txt~", False),
    ("#notes.txt#", False),
    ("._photo.jpg", False),
    ("data.tmp", False),
    ("desktop.ini", False),
    ("report.swp", False),  # not a vim swap name (no leading dot)
    (".syncdignore", False),
    ("DS_Store", False),
    ("my~$file.txt", False),
]


@pytest.mark.parametrize(("path", "ignored"), BUILTIN_ROWS)
def test_builtin_ignores(path: str, ignored: bool) -> None:
    assert is_builtin_ignored(path) is ignored
    assert Ignore().matches(path, is_dir=False) is ignored


def test_every_builtin_pattern_is_documented() -> None:
    assert all(why for _, why in BUILTIN_PATTERNS)


RULE_ROWS = [
    # (rules, path, is_dir, ignored?)
    (["*.log"], "a/b/x.log", False, True),
    (["*.log", "!keep.log"], "keep.log", False, False),
    (["build/"], "build", True, True),
    (["build/"], "build", False, False),  # a file named build is not the folder
    (["build/"], "src/build/out.o", False, True),  # through the ignored ancestor
    (["/top.txt"], "top.txt", False, True),
    (["/top.txt"], "sub/top.txt", False, False),
    (["docs/**/*.pdf"], "docs/a/b/c.pdf", False, True),
    (["# comment", ""], "# comment", False, False),
    (["secret"], "a/secret/inner.txt", False, True),
    (["node_modules/", "!node_modules/keep"], "node_modules/keep", False, True),  # git rule
]


@pytest.mark.parametrize(("rules", "path", "is_dir", "ignored"), RULE_ROWS)
def test_rules(rules: list[str], path: str, is_dir: bool, ignored: bool) -> None:
    assert Ignore.from_lines(rules).matches(path, is_dir) is ignored


def test_nested_rules_are_relative_and_deeper_wins() -> None:
    ignore = Ignore.from_lines(["*.log"]).with_folder("sub", "!important.log\n/only-here.txt\n")
    assert ignore.matches("sub/important.log", False) is False
    assert ignore.matches("other/important.log", False) is True
    assert ignore.matches("sub/only-here.txt", False) is True
    assert ignore.matches("sub/deeper/only-here.txt", False) is False
    assert ignore.matches("only-here.txt", False) is False


def test_load_reads_root_file(fs: FakeFilesystem) -> None:
    fs.create_file("/root/.syncdignore", contents="*.bak\n")
    ignore = Ignore.load(Path("/root"))
    assert ignore.matches("x.bak", False)
    assert not ignore.matches(".syncdignore", False)


def test_load_without_file_has_builtins_only(fs: FakeFilesystem) -> None:
    fs.create_dir("/root")
    ignore = Ignore.load(Path("/root"))
    assert ignore.specs == {}
    assert ignore.matches(".DS_Store", False)


def test_invalid_pattern_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        Ignore.from_lines(["\\"])
    assert ".syncdignore" in str(info.value)


def test_temp_names() -> None:
    name = new_temp_name()
    assert name.startswith(TEMP_PREFIX)
    assert is_temp_name(name) and is_our_temp_file(name)
    assert is_our_temp_file(new_temp_name("probe-a"))
    assert new_temp_name() != new_temp_name()
    assert is_temp_name(".syncd-tmp-whatever")
    assert not is_our_temp_file(".syncd-tmp-whatever")  # not a shape we create
    assert not is_our_temp_file("syncd-tmp-0123456789abcdef")


def test_every_builtin_name_starts_with_one_of_the_prefilter_characters() -> None:
    """The scanner skips the pattern for names whose first character cannot start one."""
    from syncd.local.ignore import BUILTIN_FIRST, BUILTIN_PATTERNS, MARKER_NAME

    samples = [
        ".syncd-tmp-x",
        ".~lock.a#",
        "~$doc",
        ".a.swp",
        ".#x",
        ".DS_Store",
        "Thumbs.db",
        ".fuse_hidden0a",
        ".nfs" + "0" * 16,
        MARKER_NAME,
    ]
    assert len(BUILTIN_PATTERNS) + 1 == len(samples)
    assert all(s[0] in BUILTIN_FIRST for s in samples)
