"""The path-set helpers shared by the reconciler, the scanner and the state store."""

from __future__ import annotations

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
