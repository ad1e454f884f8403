"""Conflict names (CLI.md pattern, numbered when taken) and fold clashes on the local disk."""

from __future__ import annotations

import pytest

from syncd.planner.names import Names, conflict_name, fold
from syncd.planner.ops import KeepBoth, MoveRemote, Policy
from syncd.planner.plan import plan
from tests.unit.planner.build import bfile, ldir, lfile, rdir, rfile, run, summary, tree

POLICY = Policy(now="2026-11-22 101500", host="pc")


@pytest.mark.parametrize(
    ("path", "is_dir", "expected"),
    [
        ("a.txt", False, "a (conflicted copy 2026-11-22 101500 pc).txt"),
        ("d/archive.tar.gz", False, "d/archive.tar (conflicted copy 2026-11-22 101500 pc).gz"),
        (".bashrc", False, ".bashrc (conflicted copy 2026-11-22 101500 pc)"),
        ("Makefile", False, "Makefile (conflicted copy 2026-11-22 101500 pc)"),
        ("my.folder", True, "my.folder (conflicted copy 2026-11-22 101500 pc)"),
    ],
)
def test_conflict_name_pattern(path, is_dir, expected):
    assert conflict_name(path, POLICY, Names(POLICY), is_dir=is_dir) == expected


def test_taken_conflict_names_get_a_number():
    taken = ["a (conflicted copy 2026-11-22 101500 pc).txt"]
    names = Names(POLICY, taken)
    first = conflict_name("a.txt", POLICY, names)
    second = conflict_name("a.txt", POLICY, names)
    assert first == "a (conflicted copy 2026-11-22 101500 pc 2).txt"
    assert second == "a (conflicted copy 2026-11-22 101500 pc 3).txt"


def test_taken_is_judged_by_fold_key_on_a_case_folding_disk():
    policy = Policy(now=POLICY.now, host=POLICY.host, folds_case=True)
    names = Names(policy, ["A (CONFLICTED COPY 2026-11-22 101500 PC).txt"])
    assert conflict_name("a.txt", policy, names).endswith("pc 2).txt")


def test_conflict_name_fits_one_segment():
    long = "é" * 126 + ".txt"  # 256 bytes
    name = conflict_name(long, POLICY, Names(POLICY))
    assert len(name.encode()) <= 255 and name.endswith("pc).txt")


def test_conflict_name_avoids_names_in_any_tree():
    local = tree(lfile("a.txt", "y"))
    remote = tree(rfile("a.txt", "z"), rfile("a (conflicted copy 2026-11-22 101500 pc).txt", "q"))
    base = tree(bfile("a (conflicted copy 2026-11-22 101500 pc).txt", "q"))
    result = plan(
        {
            **local,
            "a (conflicted copy 2026-11-22 101500 pc).txt": lfile(
                "a (conflicted copy 2026-11-22 101500 pc).txt", "q"
            ),
        },
        remote,
        base,
        POLICY,
    )
    (op,) = [o for o in result.ops if isinstance(o, KeepBoth)]
    assert op.conflict_path == "a (conflicted copy 2026-11-22 101500 pc 2).txt"


def test_fold_is_identity_on_a_case_sensitive_disk():
    assert fold("Readme", Policy()) == "Readme"
    assert fold("Readme", Policy(folds_case=True)) == fold("README", Policy(folds_case=True))


def test_two_remote_names_one_local_name_the_second_steps_aside():
    policy = Policy(folds_case=True)
    result, world = run({}, tree(rfile("README", "a"), rfile("readme", "b")), {}, policy)
    assert summary(result.ops) == [
        ("MoveRemote", "readme", "NAME_CLASH"),
        ("Download", "README", "REMOTE_NEW"),
        ("Download", "readme (conflicted copy 1970-01-01 000000 host)", "NAME_CLASH"),
    ]
    assert len(world.local) == 2


def test_remote_name_clashing_with_a_local_file_steps_aside():
    policy = Policy(folds_case=True)
    result, _ = run(tree(lfile("Notes.md", "mine")), tree(rfile("notes.md", "theirs")), {}, policy)
    (move,) = [o for o in result.ops if isinstance(o, MoveRemote)]
    assert move.path == "notes.md" and move.reason.value == "NAME_CLASH"


def test_clashing_directories_rename_the_whole_subtree():
    policy = Policy(folds_case=True)
    result, world = run(
        tree(ldir("Docs"), lfile("Docs/a", "1")),
        tree(rdir("docs"), rfile("docs/b", "2")),
        {},
        policy,
    )
    moves = [o for o in result.ops if isinstance(o, MoveRemote)]
    assert [(m.path, m.reason.value) for m in moves] == [("docs", "NAME_CLASH")]
    assert "docs (conflicted copy 1970-01-01 000000 host)/b" in world.local


def test_case_sensitive_disk_keeps_both_names_as_they_are():
    result, _ = run({}, tree(rfile("README", "a"), rfile("readme", "b")), {})
    assert [o.reason.value for o in result.ops] == ["REMOTE_NEW", "REMOTE_NEW"]


def test_nfc_keys_meet_one_node():
    # A local NFD spelling is keyed by its NFC form, so it pairs with the server's entry.
    nfc = "caf\u00e9"
    local = {nfc: lfile(nfc).__class__(nfc, lfile(nfc).kind, 1, 1, 1, "sha256:x", "cafe\u0301")}
    result, _ = run(local, tree(rfile(nfc)), {})
    assert summary(result.ops) == [("RecordBase", nfc, "BOTH_EQUAL")]
