"""Properties over generated trees: no loss, convergence, determinism, quiet re-plan."""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.paths import is_within
from syncd.planner.ops import Policy
from syncd.planner.plan import plan
from syncd.planner.trees import Kind, LocalNode
from tests.unit.planner.apply import World
from tests.unit.planner.build import files, run_rounds, summary
from tests.unit.planner.gen import worlds

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _policy(folds: bool, is_merge: bool) -> Policy:
    # Thresholds out of the way: the guards have their own tests.
    return Policy(folds_case=folds, is_merge=is_merge, allow_mass_delete=True)


def _versions(*trees) -> set[str]:
    return {n.hash for t in trees for n in t.values() if n.kind is Kind.FILE}


@SETTINGS
@given(worlds(), st.booleans())
def test_no_version_lost_and_sides_converge(world, is_merge):
    local, remote, base, folds = world
    policy = _policy(folds, is_merge)
    result = plan(local, remote, base, policy)
    assert result.need is None
    assert not result.refusals
    model = World(dict(local), dict(remote), dict(base), folds_case=folds)
    model.apply(result)
    # (1) every version in local or remote but not in the base survives, on both sides
    new_versions = _versions(local, remote) - _versions(base)
    assert new_versions <= _versions(model.local)
    assert new_versions <= _versions(model.remote)
    # (2) both sides hold the same names, kinds and contents
    assert files(model.local) == files(model.remote)
    # (4) planning again finds nothing to do
    again = plan(model.local, model.remote, model.base, _policy(folds, False))
    assert summary(again.ops) == []


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.booleans())
def test_base_only_server_same_guarantees_after_comparing_contents(world, is_merge):
    """No revisions or hashes from the server: the planner asks to compare, then decides."""
    local, remote, base, folds = world
    model = World(dict(local), dict(remote), dict(base), folds_case=folds, bare=True)
    policy = _policy(folds, is_merge)
    result = plan(*model.view(), policy)
    if result.need is not None:
        assert not result.need.local_hashes
        asked = result.need.remote_contents
        equal = {p for p in asked if model.local[p].hash == model.remote[p].hash}
        policy = replace(
            policy, equal_contents=frozenset(equal), different_contents=frozenset(asked - equal)
        )
        result = plan(*model.view(), policy)
    assert result.need is None
    model.apply(result)
    new_versions = _versions(local, remote) - _versions(base)
    assert new_versions <= _versions(model.local)
    assert files(model.local) == files(model.remote)
    again = plan(*model.view(), _policy(folds, False))
    assert summary(again.ops) == []


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.booleans(), st.data())
def test_base_only_unconfirmed_uploads_count_only_once_their_bytes_are_hashed(
    world, is_merge, data
):
    """Some base files lack the server's time (our uploads, not yet confirmed): whatever the
    server holds there, the planner asks for the hash of its bytes and then loses nothing."""
    local, remote, base, folds = world
    base_files = sorted(p for p, n in base.items() if n.kind is Kind.FILE)
    chosen = data.draw(st.sets(st.sampled_from(base_files))) if base_files else set()
    model = World(dict(local), dict(remote), dict(base), folds_case=folds, bare=True)
    seen_local, seen_remote, seen_base = model.view()
    seen_base = {
        p: replace(n, remote_modified_time=None) if p in chosen else n for p, n in seen_base.items()
    }
    policy = _policy(folds, is_merge)
    for _ in range(3):
        result = plan(seen_local, seen_remote, seen_base, policy)
        if result.need is None:
            break
        asked = result.need.remote_contents
        equal = {p for p in asked if model.local[p].hash == model.remote[p].hash}
        policy = replace(
            policy,
            equal_contents=policy.equal_contents | equal,
            different_contents=policy.different_contents | (asked - equal),
            remote_hashes={
                **policy.remote_hashes,
                **{p: model.remote[p].hash for p in result.need.remote_hashes},
            },
        )
    assert result.need is None
    model.apply(result)
    new_versions = _versions(local, remote) - _versions(base)
    assert new_versions <= _versions(model.local)
    assert files(model.local) == files(model.remote)
    again = plan(*model.view(), _policy(folds, False))
    assert summary(again.ops) == []


@SETTINGS
@given(worlds(), st.booleans(), st.randoms(use_true_random=False))
def test_plan_is_deterministic(world, is_merge, rnd: random.Random):
    local, remote, base, folds = world
    policy = _policy(folds, is_merge)

    def shuffled(tree):
        items = list(tree.items())
        rnd.shuffle(items)
        return dict(items)

    first = plan(local, remote, base, policy)
    assert plan(shuffled(local), shuffled(remote), shuffled(base), policy) == first


@SETTINGS
@given(worlds())
def test_merge_deletes_nothing(world):
    local, remote, base, folds = world
    result = plan(local, remote, base, _policy(folds, True))
    assert not [op for op in result.ops if type(op).__name__ in ("TrashLocal", "DeleteRemote")]


@SETTINGS
@given(worlds(), st.data())
def test_unknown_subtrees_are_left_alone(world, data):
    local, remote, base, folds = world
    paths = sorted(set(local) | set(remote) | set(base))
    if not paths:
        return
    unknown = data.draw(st.sampled_from(paths))
    side = data.draw(st.sampled_from(("local_unknown", "remote_unknown")))
    policy = replace(_policy(folds, False), **{side: frozenset({unknown})})
    result = plan(local, remote, base, policy)
    for op in result.ops:
        assert not is_within(op.path, unknown), f"{op} touches the unknown {unknown!r}"
        if type(op).__name__ in ("TrashLocal", "DeleteRemote"):
            assert not is_within(unknown, op.path), f"{op} would delete the unknown {unknown!r}"


@SETTINGS
@given(worlds(), st.booleans(), st.data())
def test_second_spellings_on_disk_are_renamed_synced_and_lose_nothing(world, is_merge, data):
    """Some local names also exist in a second spelling on disk (a file or a folder); in
    some, that second spelling is the one the base knows and the name holds a new entry."""
    local, remote, base, folds = world
    local = dict(local)
    twins: list[LocalNode] = []
    below: dict[str, list[LocalNode]] = {}
    for i, path in enumerate(sorted(local)):
        if path not in local or any(is_within(path, t.path) for t in twins):
            continue  # a twin folder's contents are below_twins, not scanned
        how = data.draw(st.sampled_from(("none", "none", "file", "dir", "synced")))
        node = local[path]
        if how == "synced" and path in base:
            # The base's spelling is the twin (with what it holds); a new file took the
            # NFC spelling.
            twins.append(replace(node, disk_name=path + "~nfd"))
            inside = [p for p in local if is_within(p, path) and p != path]
            below[path + "~nfd"] = [local.pop(p) for p in inside]
            local[path] = LocalNode(path, Kind.FILE, 3, 7, 9000 + i, f"sha256:new{i}")
        elif how in ("file", "dir"):
            is_dir = how == "dir"
            twins.append(
                LocalNode(
                    path,
                    Kind.DIR if is_dir else Kind.FILE,
                    None if is_dir else 3,
                    None if is_dir else 7,
                    8000 + i,
                    None if is_dir else f"sha256:twin{i}",
                    path + "~nfd",
                )
            )
    run_rounds(local, remote, base, twins, _policy(folds, is_merge), below)
