"""The harness's atomic user steps: each says exactly which entry it displaced."""

from __future__ import annotations

from pathlib import Path

from syncd.soak import userfs


def test_replace_creates_when_nothing_is_there(tmp_path: Path) -> None:
    quarantine = tmp_path / "q"
    quarantine.mkdir()
    assert userfs.replace(tmp_path / "f" / "new.txt", b"new", quarantine) is None
    assert (tmp_path / "f" / "new.txt").read_bytes() == b"new"
    assert list(quarantine.iterdir()) == []


def test_replace_hands_back_what_the_path_held_at_that_instant(tmp_path: Path) -> None:
    quarantine = tmp_path / "q"
    quarantine.mkdir()
    (tmp_path / "a.txt").write_bytes(b"old")
    old = userfs.replace(tmp_path / "a.txt", b"new", quarantine)
    assert old is not None and old.parent == quarantine and old.read_bytes() == b"old"
    assert (tmp_path / "a.txt").read_bytes() == b"new"


def test_remove_takes_a_folder_out_in_one_rename(tmp_path: Path) -> None:
    quarantine = tmp_path / "q"
    quarantine.mkdir()
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "x").write_bytes(b"x")
    aside = userfs.remove(tmp_path / "d", quarantine)
    assert aside is not None and (aside / "e" / "x").read_bytes() == b"x"
    assert not (tmp_path / "d").exists()
    assert userfs.remove(tmp_path / "d", quarantine) is None
    userfs.discard(aside)
    assert list(quarantine.iterdir()) == []


def test_move_never_replaces(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    assert not userfs.move(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_bytes() == b"b"
    assert not userfs.move(tmp_path / "gone", tmp_path / "c")
    assert userfs.move(tmp_path / "a", tmp_path / "c")
    assert (tmp_path / "c").read_bytes() == b"a"
