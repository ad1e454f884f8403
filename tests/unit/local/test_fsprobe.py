"""fsprobe.py: asks the real disk, leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from syncd.errors import ItemError
from syncd.local.fsprobe import FsTraits, probe, probe_read_only


def test_probe_agrees_with_the_real_disk_and_leaves_nothing(tmp_path: Path) -> None:
    traits = probe(tmp_path)
    (tmp_path / "probe-a").touch()
    (tmp_path / "probe-\u00e9").touch()
    assert traits.folds_case is (tmp_path / "PROBE-A").exists()
    assert traits.folds_unicode is (tmp_path / "probe-e\u0301").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe-a", "probe-\u00e9"]


def test_probe_sees_a_case_folding_disk(fs: FakeFilesystem) -> None:
    fs.is_case_sensitive = False
    fs.create_dir("/r")
    traits = probe(Path("/r"))
    assert traits.folds_case is True
    assert os.listdir("/r") == []


def test_probe_on_case_sensitive_fake_disk(fs: FakeFilesystem) -> None:
    fs.is_case_sensitive = True
    fs.create_dir("/r")
    assert probe(Path("/r")).folds_case is False


def test_unwritable_folder_is_an_item_error(tmp_path: Path) -> None:
    with pytest.raises(ItemError):
        probe(tmp_path / "missing")


def _entries(root: Path) -> list[tuple[str, int, int]]:
    return [(p.name, p.stat().st_mtime_ns, p.stat().st_ino) for p in sorted(root.rglob("*"))] + [
        (".", root.stat().st_mtime_ns, root.stat().st_ino)
    ]


def test_read_only_probe_answers_from_existing_names_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "Report.txt").touch()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "caf\u00e9.txt").touch()
    before = _entries(tmp_path)
    traits = probe_read_only(tmp_path)
    assert _entries(tmp_path) == before
    assert traits == probe(tmp_path)  # the writing probe, on the same real disk


def test_read_only_probe_folds_when_no_name_can_tell(tmp_path: Path) -> None:
    (tmp_path / "123").touch()  # no letter, no accent: neither question is settled
    assert probe_read_only(tmp_path) == FsTraits(folds_case=True, folds_unicode=True)


def test_read_only_probe_sees_a_case_folding_disk(fs: FakeFilesystem) -> None:
    fs.is_case_sensitive = False
    fs.create_file("/r/notes.txt")
    assert probe_read_only(Path("/r")).folds_case is True
    fs.is_case_sensitive = True
    assert probe_read_only(Path("/r")).folds_case is False
