"""The slicer: slices of about ``limit`` changed paths, never cut inside a folder the
planner must see whole, far moves planned in one slice."""

from __future__ import annotations

from syncd.planner.slicing import clash_pairs, holds_subtree, join_groups, slices
from syncd.scope import exact

F, D = "file", "directory"


def rows(*entries: tuple[str, str | None, str | None, str | None]):
    return [(i + 1, *e) for i, e in enumerate(sorted(entries))]


def test_slices_hold_about_limit_paths_in_path_order() -> None:
    queued = rows(*((f"f{i:02d}", F, None, None) for i in range(10)))
    out = list(slices(queued, [], 3))
    assert [len(s) for s in out] == [3, 3, 3, 1]
    assert out[0] == {exact("f00"), exact("f01"), exact("f02")}


def test_a_folder_deleted_on_a_side_keeps_its_subtree_in_one_slice() -> None:
    queued = rows(
        ("a", None, D, D),  # gone from the disk: the planner decides it with all below
        *((f"a/{i}", None, F, F) for i in range(6)),
        ("b", F, None, None),
    )
    out = list(slices(queued, [], 2))
    assert out[0] == {exact("a"), *(exact(f"a/{i}") for i in range(6))}
    assert out[1] == {exact("b")}


def test_a_new_folder_may_be_cut() -> None:
    queued = rows(("n", D, None, None), *((f"n/{i}", F, None, None) for i in range(4)))
    assert [len(s) for s in slices(queued, [], 2)] == [2, 2, 1]


def test_the_ends_of_a_move_go_whole_into_the_first_slice_that_meets_them() -> None:
    queued = rows(
        ("a", None, D, D),
        ("a/x", None, F, F),
        ("m", F, None, None),
        ("z", D, None, None),
        ("z/x", F, None, None),
    )
    out = list(slices(queued, [["a", "z"]], 1))
    assert out[0] == {"a", "z"}  # subtree entries, both ends
    assert out[1] == {exact("m")}
    assert len(out) == 2  # z and z/x were planned with a


def test_holds_subtree() -> None:
    assert holds_subtree(None, D, D) and holds_subtree(D, F, F) and holds_subtree(F, None, D)
    assert not holds_subtree(D, D, D) and not holds_subtree(D, None, None)


def test_join_groups_meets_shared_and_nested_ends() -> None:
    groups = join_groups([("a", "z"), ("a/b", "q"), ("x", "y")])
    assert sorted(sorted(g) for g in groups) == [["a", "a/b", "q", "z"], ["x", "y"]]


def test_names_that_fold_together_are_planned_in_one_slice() -> None:
    """``README`` and ``readme`` lie far apart in path order; the clash is a group."""
    queued = rows(
        ("README", F, F, F),
        *((f"m{i}", F, None, None) for i in range(4)),
        ("readme", None, None, F),
    )
    groups = join_groups(clash_pairs([["README", "readme"]]))
    out = list(slices(queued, groups, 2))
    assert out[0] == {"README", "readme"}
    assert not any("readme" in s for s in out[1:])
    assert sum(len(s) for s in out[1:]) == 4


def test_clash_pairs_join_with_a_move_that_meets_them() -> None:
    pairs = [*clash_pairs([["A", "a"], ["B", "b"]]), ("a/x", "z")]
    assert sorted(sorted(g) for g in join_groups(pairs)) == [["A", "a", "a/x", "z"], ["B", "b"]]
