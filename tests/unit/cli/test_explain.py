"""cli/explain.py: which workspace path PATH names, and the rows people read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.cli.explain import headline, rows_of, workspace_path
from syncd.errors import UsageError
from syncd.explain.assemble import assemble
from syncd.explain.facts import Facts
from syncd.explain.plan import PathPlan, RemoteRead
from syncd.local.ignore import IgnoreMatch
from syncd.local.pathinfo import PathInfo
from syncd.planner import ops
from syncd.planner.trees import BaseNode, Kind, RemoteNode


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "folder"
    (root / "sub").mkdir(parents=True)
    return root


@pytest.mark.parametrize(
    ("given", "cwd", "expected"),
    [
        ("sub/a.txt", "..", "sub/a.txt"),  # from outside the folder: relative to it
        ("a.txt", "sub", "sub/a.txt"),  # from inside: relative to where you are
        ("../b.txt", "sub", "b.txt"),
        ("folder/sub/a.txt", "..", "sub/a.txt"),  # a file-system path into the folder
        ("sub/", ".", "sub"),
        ("./sub//a.txt", ".", "sub/a.txt"),
    ],
)
def test_path_is_folder_relative_or_a_path_into_the_folder(folder, given, cwd, expected):
    assert workspace_path(folder, given, (folder / cwd).resolve()) == expected


def test_an_absolute_path_inside_the_folder_and_one_through_a_link(folder, tmp_path):
    assert workspace_path(folder, str(folder / "sub" / "a.txt"), tmp_path) == "sub/a.txt"
    os.symlink(folder, tmp_path / "alias")
    assert workspace_path(folder, str(tmp_path / "alias" / "sub" / "x"), tmp_path) == "sub/x"


@pytest.mark.parametrize(
    ("given", "cwd", "words"),
    [
        ("/etc/passwd", ".", "outside the folder"),
        ("../../x", "sub", "outside the folder"),
        ("../x", ".", "outside the folder"),
        ("../outside", "..", "outside the folder"),
        (".", ".", "the folder itself"),
        ("", ".", "empty"),
    ],
)
def test_a_path_outside_or_the_folder_itself_is_a_usage_error(folder, given, cwd, words):
    with pytest.raises(UsageError, match=words) as caught:
        workspace_path(folder, given, (folder / cwd).resolve())
    assert caught.value.exit_code == 2


def facts() -> Facts:
    return Facts(
        "a.txt",
        local=PathInfo("file", 12, 10**18, 7, 10**18),
        cached_hash="sha256:" + "ab" * 32,
        base=BaseNode("a.txt", Kind.FILE, 5, "sha256:" + "cd" * 32, 10**18, 7, 3),
        recent=[{"what": "uploaded", "path": "a.txt", "op": "Upload",
                 "reason": "LOCAL_NEW", "time": "2026-12-03T10:00:00+00:00"}],
    )  # fmt: skip


def test_rows_name_each_fact_and_end_with_the_plan():
    read = RemoteRead(RemoteNode("a.txt", Kind.FILE, 5, "t", 3, "sha256:" + "cd" * 32), 0, False)
    up = ops.Upload("a.txt", ops.Reason.LOCAL_CHANGED)
    info = assemble(facts(), read=read, plan=PathPlan(ops=[up]), mode="two-way")
    rows = dict(rows_of(info))
    assert rows["local"].startswith("file, 12 bytes")
    assert "(stale: the file changed since)" in rows["  cached hash"]
    assert rows["remote"] == "file, 5 bytes, revision 3 (fresh listing, full server)"
    assert rows["local vs base"] == "changed" and rows["remote vs base"] == "same"
    assert "uploaded a.txt (Upload, LOCAL_NEW)" in rows["last change"]
    assert rows_of(info)[-2:] == [
        ("plan", "upload (LOCAL_CHANGED)"),
        ("  op", "op=Upload path=a.txt reason=LOCAL_CHANGED"),
    ]
    assert headline(info) == "a.txt: upload (LOCAL_CHANGED)"


def test_rows_say_unknown_when_the_server_did_not_answer():
    info = assemble(facts(), read=None, plan=None, mode="two-way", remote_error="no answer")
    rows = dict(rows_of(info))
    assert rows["remote"] == "unknown: no answer"
    assert rows["remote vs base"] == "unknown"
    assert rows["plan"].startswith("unknown")


def test_an_ignore_rule_reads_with_file_line_and_folder():
    f = facts()
    f.ignore = IgnoreMatch("sub", "sub/.syncdignore", "*", 0)
    f.ignore_line = 4
    f.path = "sub/x"
    info = assemble(f, read=None, plan=PathPlan(), mode="two-way")
    assert dict(rows_of(info))["ignore"] == (
        "ignored by sub/.syncdignore line 4: * (through the folder sub)"
    )
