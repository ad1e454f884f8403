"""Workspace paths found on disk whatever the spelling of their names (real temp folders)."""

from __future__ import annotations

from pathlib import Path

from syncd.local.spelling import exists_on_disk, find_on_disk, place_on_disk

NFD, NFC = "cafe\u0301", "caf\u00e9"


def test_a_name_spelled_as_given_is_found_directly(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a/b.txt").write_text("x")
    assert find_on_disk(tmp_path, "a/b.txt") == tmp_path / "a/b.txt"


def test_an_nfd_folder_is_found_by_its_nfc_name(tmp_path: Path) -> None:
    (tmp_path / NFD).mkdir()
    (tmp_path / NFD / "f.txt").write_text("x")
    assert find_on_disk(tmp_path, f"{NFC}/f.txt") == tmp_path / NFD / "f.txt"
    assert exists_on_disk(tmp_path, NFC)
    assert not exists_on_disk(tmp_path, f"{NFC}/gone.txt")


def test_a_new_name_is_placed_in_its_folder_as_the_disk_spells_it(tmp_path: Path) -> None:
    (tmp_path / NFD).mkdir()
    assert place_on_disk(tmp_path, f"{NFC}/new.txt") == tmp_path / NFD / "new.txt"
    assert place_on_disk(tmp_path, "top.txt") == tmp_path / "top.txt"
    assert place_on_disk(tmp_path, "missing/new.txt") == tmp_path / "missing/new.txt"


def test_a_file_in_the_way_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert find_on_disk(tmp_path, "f/child") is None
