"""ignore.py: which rule ignores a path (``Ignore.rule_for``), and on which line it is."""

from __future__ import annotations

import pytest

from syncd.local.ignore import BUILTIN_PATTERNS, Ignore, rule_line

ROOT = "# build output\n\n*.log\n!keep.log\nbuild/\n"
NESTED = "private/\n"


@pytest.fixture
def rules() -> Ignore:
    return Ignore.from_text(ROOT).with_folder("sub", NESTED)


@pytest.mark.parametrize(
    ("path", "is_dir", "matched", "source", "pattern", "line"),
    [
        ("run.log", False, "run.log", ".syncdignore", "*.log", 3),
        ("deep/er/run.log", False, "deep/er/run.log", ".syncdignore", "*.log", 3),
        ("build", True, "build", ".syncdignore", "build/", 5),
        ("build/out/a.o", False, "build", ".syncdignore", "build/", 5),  # through its folder
        ("sub/private", True, "sub/private", "sub/.syncdignore", "private/", 1),
        ("sub/private/key.txt", False, "sub/private", "sub/.syncdignore", "private/", 1),
    ],
)
def test_a_rule_is_named_with_its_file_and_line(
    rules, path, is_dir, matched, source, pattern, line
):
    found = rules.rule_for(path, is_dir)
    assert found is not None
    assert (found.path, found.source, found.pattern) == (matched, source, pattern)
    text = NESTED if source.startswith("sub/") else ROOT
    assert found.index is not None and rule_line(text, found.index) == line


@pytest.mark.parametrize("path", ["keep.log", "notes.txt", "sub/public/a.txt", "sub/.syncd-root"])
def test_what_is_not_ignored_has_no_rule(rules, path):
    assert rules.rule_for(path, False) is None
    assert rules.matches(path, False) is False


def test_a_built_in_name_says_what_it_is():
    found = Ignore().rule_for("docs/.DS_Store", False)
    assert found is not None and found.source == "built-in" and found.pattern is None
    assert found.why == dict((p, w) for p, w in BUILTIN_PATTERNS)[r"\.DS_Store"]
    marker = Ignore().rule_for(".syncd-root", False)
    assert marker is not None and "marker" in (marker.why or "")


@pytest.mark.parametrize(
    "path",
    ["run.log", "keep.log", "build/x", "sub/private/k", "a/.DS_Store", "x/.syncd-tmp-1", "z"],
)
def test_a_rule_is_found_exactly_where_matches_says_ignored(rules, path):
    assert (rules.rule_for(path, False) is not None) == rules.matches(path, False)


def test_rule_line_counts_comments_but_not_empty_lines():
    assert rule_line("\n\n# c\n\nx\n", 0) == 3
    assert rule_line("\n\n# c\n\nx\n", 1) == 5
    assert rule_line("a\n", 4) is None
