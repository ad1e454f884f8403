"""The path-set helpers shared by the reconciler, the scanner and the state store."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd import paths
from syncd.errors import InvalidPath
from syncd.paths import MAX_SEGMENT_BYTES, is_within_any, outermost
from syncd.planner import names


def test_outermost_drops_paths_inside_another() -> None:
    assert outermost(["a/x", "a", "b/c", "a/x/y", "a b"]) == ["a", "a b", "b/c"]
    assert outermost(["a", "a-b", "a/b", "a"]) == ["a", "a-b"]  # '-' sorts before '/'
    assert outermost([]) == []


def test_is_within_any_names_a_path_or_its_ancestors_only() -> None:
    roots = {"a/b", "c"}
    assert is_within_any("a/b", roots) and is_within_any("a/b/x/y", roots)
    assert is_within_any("c/d", roots)
    assert not is_within_any("a", roots)
    assert not is_within_any("a/bc", roots) and not is_within_any("cd", roots)
    assert not is_within_any("x", set())


def test_the_segment_limit_is_one_fact() -> None:
    assert names.MAX_SEGMENT_BYTES is MAX_SEGMENT_BYTES == 255


def _verdict(check, path: str) -> str:
    try:
        return "ok " + check(path)
    except InvalidPath as exc:
        return "refused " + str(exc)


# Pieces that meet every rule at its edge: separators, dots, controls, long segments,
# non-ASCII in NFC and NFD spellings, a lone surrogate.
_PIECES = st.sampled_from(
    [
        *("a", "/", ".", "..", "\x01", "\x7f", "\x85", " ", "\u00e9", "e\u0301", "\ud800"),
        *("x" * (MAX_SEGMENT_BYTES - 1), "x" * MAX_SEGMENT_BYTES),
    ]
)


@given(st.lists(_PIECES, max_size=8).map("".join) | st.text(max_size=40))
def test_the_fast_check_agrees_with_the_rules(path: str) -> None:
    assert _verdict(paths.normalize, path) == _verdict(paths._checked, path)


@pytest.mark.parametrize(
    "path", ["", "/a", "a/", "a//b", ".", "a/..", "a/./b", "a\x00b", "a\x7f", "x" * 256]
)
def test_plain_ascii_paths_that_break_a_rule_are_still_refused(path: str) -> None:
    with pytest.raises(InvalidPath):
        paths.normalize(path)


def test_a_plain_ascii_path_is_returned_as_it_is() -> None:
    assert paths.normalize("docs/a b/.hidden/c...txt") == "docs/a b/.hidden/c...txt"
    assert paths.normalize("a/" + "x" * MAX_SEGMENT_BYTES) == "a/" + "x" * MAX_SEGMENT_BYTES
