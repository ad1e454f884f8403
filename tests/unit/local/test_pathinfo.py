"""pathinfo.py: one path on disk without following links, and the ignore files above it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.errors import ItemError
from syncd.local.pathinfo import ignore_rules_for, path_info


def test_a_file_a_folder_and_a_link_are_described_as_they_are(tmp_path: Path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_text("12345")
    os.symlink("d/f.txt", tmp_path / "link")
    f = path_info(tmp_path, "d/f.txt")
    assert f is not None and f.kind == "file" and f.size == 5
    assert f.inode == os.lstat(tmp_path / "d" / "f.txt").st_ino
    d = path_info(tmp_path, "d")
    assert d is not None and d.kind == "directory"
    link = path_info(tmp_path, "link")
    assert link is not None and link.kind == "symlink" and link.link_target == "d/f.txt"


def test_absent_is_none_also_below_a_file(tmp_path: Path):
    (tmp_path / "f").write_text("x")
    assert path_info(tmp_path, "nope.txt") is None
    assert path_info(tmp_path, "f/below.txt") is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root enters any folder")
def test_an_unreadable_folder_is_an_item_error(tmp_path: Path):
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "x").write_text("x")
    (tmp_path / "locked").chmod(0)
    try:
        with pytest.raises(ItemError):
            path_info(tmp_path, "locked/x")
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_nested_ignore_files_on_the_way_are_read_with_their_text(tmp_path: Path):
    (tmp_path / ".syncdignore").write_text("*.log\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".syncdignore").write_text("secret.txt\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / ".syncdignore").write_text("*\n")  # not on the way: not used
    rules, texts = ignore_rules_for(tmp_path, "a/b/secret.txt")
    assert texts == {"": "*.log\n", "a": "secret.txt\n"}
    found = rules.rule_for("a/b/secret.txt", False)
    assert found is not None and found.source == "a/.syncdignore"
    assert rules.rule_for("a/b/ok.txt", False) is None


def test_a_linked_nested_ignore_file_is_not_used(tmp_path: Path):
    (tmp_path / "rules").write_text("*\n")
    (tmp_path / "a").mkdir()
    os.symlink("../rules", tmp_path / "a" / ".syncdignore")
    rules, texts = ignore_rules_for(tmp_path, "a/x.txt")
    assert texts == {} and rules.rule_for("a/x.txt", False) is None
