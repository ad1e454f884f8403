"""Conflict names (CLI.md pattern, numbered when taken), fold clashes on the local disk, and
second Unicode spellings of one name on disk (renamed beside it, then synced)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from syncd.planner.names import Names, conflict_name, fold
from syncd.planner.ops import KeepBoth, MoveLocal, MoveRemote, Policy, TrashLocal
from syncd.planner.plan import plan
from tests.unit.planner.build import (
    bdir,
    bfile,
    files,
    ldir,
    lfile,
    rdir,
    rfile,
    run,
    run_rounds,
    summary,
    tree,
    twin,
)

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


# Unicode twins: one folder on disk holds a name in two spellings (NFC and NFD).

NFC, NFD = "caf\u00e9.txt", "cafe\u0301.txt"
TWIN_DEST = "caf\u00e9 (unicode conflict).txt"


def _moves(result) -> list[tuple[str, str, str, str | None]]:
    return [
        (o.path, o.dest, o.reason.value, o.local.disk_name)
        for o in result.ops
        if isinstance(o, MoveLocal)
    ]


def test_a_second_spelling_is_renamed_beside_the_name_then_synced():
    """The NFD file was reported at every sync and never synced: now it gets a name."""
    plans, world = run_rounds(tree(lfile(NFC, "composed")), {}, {}, [twin(NFC, NFD, "decomp")])
    first, second = plans
    assert summary(first.ops) == [("MoveLocal", NFC, "UNICODE_TWIN")]  # the name waits
    assert _moves(first) == [(NFC, TWIN_DEST, "UNICODE_TWIN", NFD)]
    assert set(summary(second.ops)) == {
        ("Upload", NFC, "LOCAL_NEW"),
        ("Upload", TWIN_DEST, "LOCAL_NEW"),
    }
    assert {p: n.hash for p, n in world.remote.items()} == {
        NFC: "sha256:composed",
        TWIN_DEST: "sha256:decomp",
    }


def test_the_spelling_the_base_knows_keeps_the_name():
    """An NFD file was synced; an NFC one appeared beside it: the new one moves aside, so
    the synced file stays what the base says and nothing is re-uploaded over it."""
    synced = twin(NFC, NFD, "old")
    base = tree(bfile(NFC, "old", inode=synced.inode))
    remote = tree(rfile(NFC, "old"))
    local = tree(lfile(NFC, "new"))  # the scanner puts the NFC spelling at the key
    plans, world = run_rounds(local, remote, base, [synced])
    assert _moves(plans[0]) == [(NFC, TWIN_DEST, "UNICODE_TWIN", None)]
    assert summary(plans[1].ops) == [("Upload", TWIN_DEST, "LOCAL_NEW")]
    assert world.remote[NFC].hash == "sha256:old"
    assert world.remote[TWIN_DEST].hash == "sha256:new"


def test_twin_folders_rename_one_folder_and_leave_both_subtrees_alone_this_round():
    nfc, nfd = "\u00dcn\u00efcode", "U\u0308ni\u0308code"
    local = tree(ldir(nfc), lfile(f"{nfc}/mine.txt", "m"))
    remote = tree(rdir(nfc), rfile(f"{nfc}/remote.txt", "r"))
    result = plan(local, remote, {}, Policy(local_twins=(twin(nfc, nfd, None),)))
    assert _moves(result) == [(nfc, f"{nfc} (unicode conflict)", "UNICODE_TWIN", nfd)]
    assert len(result.ops) == 1  # no download into a name the disk holds twice


def test_a_twin_below_a_name_held_twice_waits_for_the_next_round():
    folder, folder_nfd = "\u00dc", "U\u0308"
    local = tree(ldir(folder), lfile(f"{folder}/{NFC}"))
    twins = (twin(folder, folder_nfd, None), twin(f"{folder}/{NFC}", f"{folder}/{NFD}"))
    result = plan(local, {}, {}, Policy(local_twins=twins))
    assert [m[0] for m in _moves(result)] == [folder]


def test_deleting_the_name_remotely_never_takes_the_other_spelling():
    """The server deleted the file this client synced; the NFD one beside it is kept."""
    local = tree(lfile(NFC, "synced"))
    base = tree(bfile(NFC, "synced"))
    plans, world = run_rounds(local, {}, base, [twin(NFC, NFD, "mine")])
    assert summary(plans[0].ops) == [("MoveLocal", NFC, "UNICODE_TWIN")]
    assert set(summary(plans[1].ops)) == {
        ("TrashLocal", NFC, "REMOTE_DELETED"),
        ("Upload", TWIN_DEST, "LOCAL_NEW"),
    }
    assert [n.hash for n in world.trash] == ["sha256:synced"]
    assert set(world.remote) == {TWIN_DEST}


def test_a_folder_deleted_remotely_stays_while_it_holds_a_twin():
    local = tree(ldir("d"), lfile(f"d/{NFC}", "synced"))
    base = tree(bdir("d"), bfile(f"d/{NFC}", "synced"))
    plans, world = run_rounds(local, {}, base, [twin(f"d/{NFC}", f"d/{NFD}", "mine")])
    assert not any(isinstance(o, TrashLocal) and o.path == "d" for p in plans for o in p.ops)
    assert set(world.remote) == {"d", f"d/{TWIN_DEST}"}


def test_the_twin_name_is_numbered_when_taken():
    local = tree(lfile(NFC, "a"), lfile(TWIN_DEST, "b"))
    result = plan(local, {}, {}, Policy(local_twins=(twin(NFC, NFD),)))
    assert _moves(result)[0][1] == "caf\u00e9 (unicode conflict 2).txt"


def test_an_unknown_owner_leaves_every_spelling_to_be_renamed():
    # The key's owner could not be read (a symlink, say): the twins get names of their own.
    result = plan({}, {}, {}, Policy(local_unknown=frozenset({NFC}), local_twins=(twin(NFC, NFD),)))
    assert _moves(result) == [(NFC, TWIN_DEST, "UNICODE_TWIN", NFD)]


def test_a_first_sync_renames_twins_too():
    plans, _ = run_rounds(
        tree(lfile(NFC, "one")),
        tree(rfile(NFC, "one")),
        {},
        [twin(NFC, NFD, "two")],
        Policy(is_merge=True),
    )
    assert _moves(plans[0]) == [(NFC, TWIN_DEST, "UNICODE_TWIN", NFD)]


def test_a_remote_move_never_lands_on_a_name_held_twice():
    """A name held in two spellings is left out of this round's trees, but it is still on
    disk: on a case-folding disk the server's move of ``b`` to ``a`` must not land on
    ``A``, which the twin's round only set aside."""
    local = tree(lfile("A", "x", inode=100), lfile("b", "x", inode=101))
    base = tree(bfile("A", "x", inode=100), bfile("b", "x", inode=101))
    remote = tree(rfile("A", "x"), rfile("a", "x", rev=2))
    folding = Policy(folds_case=True, now=POLICY.now, host=POLICY.host)
    result = plan(local, remote, base, replace(folding, local_twins=(twin("A", "A~2", "t"),)))
    assert not any(isinstance(o, MoveLocal) and o.dest == "a" for o in result.ops)
    _, world = run_rounds(local, remote, base, [twin("A", "A~2", "t")], folding)
    assert files(world.local) == files(world.remote)
