"""assemble.py: facts, the server's answer and the plan as one JSON value (pure)."""

from __future__ import annotations

import json

import pytest

from syncd.explain.assemble import assemble, exclude_entry, op_entry
from syncd.explain.facts import Facts
from syncd.explain.plan import PathPlan, RemoteRead
from syncd.local.ignore import IgnoreMatch
from syncd.local.pathinfo import PathInfo
from syncd.planner import ops
from syncd.planner.trees import BaseNode, Kind, RemoteNode

KEYS = {
    "path", "known", "local", "base", "remote", "mirror", "compare", "ignore", "exclude",
    "mode", "last_change", "changes", "pending", "errors", "conflicts", "dirty_since",
    "plan", "daemon", "merge_pending", "last_sync",
}  # fmt: skip
SIG = (5, 100, 7, 100)


def synced(path: str = "a.txt", **overrides: object) -> Facts:
    """Facts of a file synced as it is: stat and cached hash equal to the base."""
    facts = Facts(
        path,
        local=PathInfo("file", *SIG),
        cached_hash="sha256:aa",
        cache_matches=True,
        base=BaseNode(path, Kind.FILE, 5, "sha256:aa", 100, 7, 3),
    )
    for key, value in overrides.items():
        setattr(facts, key, value)
    return facts


def remote(path: str = "a.txt", revision: int = 3, digest: str = "sha256:aa") -> RemoteRead:
    return RemoteRead(RemoteNode(path, Kind.FILE, 5, "t", revision, digest), 0, base_only=False)


def test_the_value_has_the_stable_keys_and_is_json():
    value = assemble(synced(), read=remote(), plan=PathPlan(), mode="two-way")
    assert set(value) == KEYS
    assert json.loads(json.dumps(value)) == value


@pytest.mark.parametrize(
    ("facts", "read", "expected"),
    [
        (synced(), remote(), {"local": "same", "remote": "same"}),
        (synced(local=PathInfo("file", 9, 200, 7, 200), cache_matches=False), remote(), {"local": "changed", "remote": "same"}),
        (synced(), remote(revision=4, digest="sha256:bb"), {"local": "same", "remote": "changed"}),
        (synced(local=None), remote(), {"local": "deleted", "remote": "same"}),
        (synced(base=None, local=None), remote(), {"local": "absent", "remote": "new"}),
        (synced(), None, {"local": "same", "remote": None}),  # offline: remote unknown
        (synced(local=PathInfo("symlink", *SIG, "x")), remote(), {"local": None, "remote": "same"}),
    ],
)  # fmt: skip
def test_compare_is_the_tables_input(facts, read, expected):
    assert assemble(facts, read=read, plan=PathPlan(), mode="two-way")["compare"] == expected


def test_the_paths_own_op_gives_the_action_and_reason():
    up = ops.Upload("a.txt", ops.Reason.LOCAL_CHANGED)
    value = assemble(synced(), read=remote(), plan=PathPlan(ops=[up]), mode="two-way")
    plan = value["plan"]
    assert plan["action"] == "upload" and plan["reason"] == "LOCAL_CHANGED"
    assert plan["ops"] == [op_entry(up)]
    assert plan["ops"][0]["text"] == "op=Upload path=a.txt reason=LOCAL_CHANGED"


def test_an_op_on_a_folder_above_explains_the_path_below():
    trash = ops.TrashLocal("photos", ops.Reason.EXCLUDED)
    facts = synced("photos/cat.jpg", excluded_added=["photos"])
    value = assemble(
        facts, read=remote("photos/cat.jpg"), plan=PathPlan(ops=[trash]), mode="two-way"
    )
    assert value["plan"]["reason"] == "EXCLUDED"
    assert value["plan"]["action"] == "move the local copy to the trash"


@pytest.mark.parametrize(
    ("facts", "plan", "reason"),
    [
        (synced(), PathPlan(), "UNCHANGED"),
        (synced(excluded_added=["a.txt"]), PathPlan(), "EXCLUDED"),
        (synced(ignore=IgnoreMatch("a.txt", ".syncdignore", "*.txt", 0)), PathPlan(), "IGNORED"),
        (synced(skipped="symbolic link"), PathPlan(), "SKIPPED"),
        (synced(), PathPlan(problems=[("a.txt", "cannot read")]), "UNREADABLE"),
        (Facts("nowhere"), PathPlan(), "UNKNOWN"),
    ],
)
def test_no_op_says_why_nothing_is_to_do(facts, plan, reason):
    read = RemoteRead(None, 0, base_only=True) if facts.path == "nowhere" else remote()
    value = assemble(facts, read=read, plan=plan, mode="two-way")
    assert value["plan"]["action"] == "nothing" and value["plan"]["reason"] == reason


def test_a_path_nobody_knows_is_not_known():
    read = RemoteRead(None, 0, base_only=False)
    assert assemble(Facts("x"), read=read, plan=PathPlan(), mode="two-way")["known"] is False
    assert assemble(synced(), read=read, plan=PathPlan(), mode="two-way")["known"] is True
    below = RemoteRead(None, 2, base_only=False)
    assert assemble(Facts("d"), read=below, plan=PathPlan(), mode="two-way")["known"] is True


def test_without_the_server_remote_and_plan_are_unknown_with_the_reason():
    value = assemble(
        synced(), read=None, plan=None, mode="two-way", remote_error="unreachable",
        plan_error="unreachable",
    )  # fmt: skip
    assert value["remote"]["checked"] is False and value["remote"]["error"] == "unreachable"
    assert value["remote"]["exists"] is None
    assert value["plan"]["checked"] is False and value["plan"]["action"] is None
    assert value["local"]["exists"] is True and value["base"]["size"] == 5


def test_a_stopped_plan_is_a_refusal():
    value = assemble(synced(), read=remote(), plan=PathPlan(stopped="folder gone"), mode="two-way")
    assert value["plan"]["action"] == "refused" and value["plan"]["stopped"] == "folder gone"


def test_the_outermost_exclude_rule_wins_and_rules_below_are_listed():
    assert exclude_entry("a/b/c", ["a/b"], ["a"]) == {
        "excluded": True, "rule": "a", "source": "config", "below": [],
    }  # fmt: skip
    assert exclude_entry("a", ["a/b", "x"], []) == {
        "excluded": False, "rule": None, "source": None, "below": ["a/b"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("op", "words"),
    [
        (ops.MoveRemote("a", ops.Reason.LOCAL_MOVED, dest="b"), "move on the server to b"),
        (ops.KeepBoth("a", ops.Reason.BOTH_CHANGED, conflict_path="a (c)"), "a (c)"),
        (ops.RecordBase("a", ops.Reason.BOTH_EQUAL), "no transfer"),
        (ops.DeleteRemote("a", ops.Reason.LOCAL_DELETED), "delete on the server"),
    ],
)
def test_each_op_has_words_and_its_other_end(op, words):
    entry = op_entry(op)
    assert words in entry["what"]
    assert entry["dest"] == (getattr(op, "dest", None) or getattr(op, "conflict_path", None))


def test_a_folder_with_changes_below_counts_them_and_names_no_rule():
    below = [ops.Upload("d/x", ops.Reason.LOCAL_NEW), ops.Upload("d/y", ops.Reason.LOCAL_NEW)]
    facts = Facts("d", local=PathInfo("directory", 0, 1, 2, 1))
    value = assemble(facts, read=None, plan=PathPlan(ops=below), mode="two-way")
    assert value["plan"]["action"] == "2 operations below it" and value["plan"]["reason"] is None


def test_the_move_that_lands_on_a_path_is_its_own_op():
    move = ops.MoveRemote("old", ops.Reason.LOCAL_MOVED, dest="new")
    value = assemble(Facts("new"), read=None, plan=PathPlan(ops=[move]), mode="two-way")
    assert value["plan"]["action"] == "move on the server to new"
    assert value["plan"]["reason"] == "LOCAL_MOVED"


def test_a_change_a_one_way_mode_leaves_alone_is_held_by_the_mode():
    facts = synced(base=None, local=None)
    value = assemble(facts, read=remote(), plan=PathPlan(), mode="upload-only")
    assert value["plan"]["reason"] == "HELD_BY_MODE"
    assert value["mode"] == {"now": "upload-only", "from": "settings", "last_pass": None}
