"""Guards: mass deletes and a vanished or emptied folder become refusals, ops still listed."""

from __future__ import annotations

from syncd.planner.ops import Policy
from syncd.planner.plan import plan
from tests.unit.planner.build import bdir, bfile, ldir, lfile, rdir, rfile, tree


def _many(n: int, prefix: str = "f"):
    names = [f"{prefix}{i:03}" for i in range(n)]
    return (
        tree(*(lfile(p) for p in names)),
        tree(*(rfile(p) for p in names)),
        tree(*(bfile(p) for p in names)),
    )


def test_remote_mass_delete_is_refused_and_ops_kept_for_dry_run():
    local, remote, base = _many(40)
    kept = dict(list(local.items())[:10])
    result = plan(kept, remote, base, Policy())
    assert [r.kind for r in result.refusals] == ["mass_delete"]
    assert len(result.refusals[0].paths) == 30
    assert "30 of 40 files on the server" in result.refusals[0].message
    assert len(result.ops) == 30


def test_local_mass_delete_counts_files_under_deleted_directories():
    local, remote, base = _many(5)
    sub = [f"d/f{i:03}" for i in range(30)]
    local = {**local, "d": ldir("d"), **{p: lfile(p) for p in sub}}
    base = {**base, "d": bdir("d"), **{p: bfile(p) for p in sub}}
    result = plan(local, remote, base, Policy())
    assert [op.path for op in result.ops] == ["d"]
    (refusal,) = result.refusals
    assert refusal.kind == "mass_delete" and len(refusal.paths) == 30
    assert "in the local folder" in refusal.message


def test_below_either_threshold_is_not_refused():
    local, remote, base = _many(100)
    fewer = dict(list(local.items())[15:])  # 15 deletes: under the count threshold
    assert not plan(fewer, remote, base, Policy()).refusals
    local, remote, base = _many(30)
    half = dict(list(local.items())[:9])  # 21 of 30: over both
    assert plan(half, remote, base, Policy()).refusals
    assert not plan(half, remote, base, Policy(max_delete_ratio=0.8)).refusals


def test_consent_lifts_the_mass_delete_refusal():
    _, remote, base = _many(40)
    assert not plan({}, remote, base, Policy(allow_mass_delete=True)).refusals


def test_root_marker_gone_is_refused_while_base_holds_files():
    local, remote, base = _many(3)
    result = plan(local, remote, base, Policy(root_marker_ok=False))
    assert [r.kind for r in result.refusals] == ["root_vanished"]
    assert not plan({}, {}, {}, Policy(root_marker_ok=False)).refusals


def test_emptied_folder_is_refused_before_it_deletes_the_server():
    _, remote, base = _many(25)
    result = plan({}, remote, base, Policy())
    assert result.refusals[0].kind == "root_vanished"
    assert sorted(result.refusals[0].paths) == sorted(remote)


def test_deleting_the_last_few_files_by_hand_is_not_refused():
    _, remote, base = _many(3)
    result = plan({}, remote, base, Policy())
    assert not result.refusals
    assert {type(op).__name__ for op in result.ops} == {"DeleteRemote"}


def test_scoped_plan_judges_mass_delete_against_the_whole_side():
    local, remote, base = _many(25)
    gone = {p: n for p, n in local.items() if p not in set(sorted(local)[:22])}
    assert not plan(gone, remote, base, Policy(local_files=1000, remote_files=1000)).refusals
    assert [r.kind for r in plan(gone, remote, base, Policy()).refusals] == ["mass_delete"]


def test_merge_of_an_emptied_folder_is_not_refused_it_downloads():
    _, remote, base = _many(3)
    result = plan({}, remote, base, Policy(is_merge=True))
    assert not result.refusals
    assert {type(op).__name__ for op in result.ops} == {"Download"}


def test_guard_counts_only_files_of_a_side():
    _, remote, base = _many(25)
    remote = {**remote, "empty": rdir("empty")}
    base = {**base, "empty": bdir("empty")}
    result = plan({}, remote, base, Policy(root_marker_ok=True, allow_mass_delete=False))
    mass = [r for r in result.refusals if r.kind == "mass_delete"]
    assert mass and "25 of 25 files" in mass[0].message
