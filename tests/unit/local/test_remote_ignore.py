"""The server's paths against the ``.syncdignore`` files on disk (real temp folders)."""

from __future__ import annotations

from pathlib import Path

from syncd.local.ignore import Ignore
from syncd.local.remote_ignore import ignored_remote

ENTRIES = [
    ("top.log", False),
    ("proj", True),
    ("proj/build", True),
    ("proj/build/out.o", False),
    ("proj/build/deep/x.o", False),
    ("proj/src/main.c", False),
    ("proj/src/keep.log", False),
    ("other/build/out.o", False),
]


def rules(root: Path, folder: str, text: str) -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / ".syncdignore").write_text(text)


def test_a_nested_file_excludes_below_its_folder_only(tmp_path: Path) -> None:
    rules(tmp_path, "proj", "build/\n")
    found = ignored_remote(tmp_path, Ignore(), ENTRIES)
    assert found == {"proj/build", "proj/build/out.o", "proj/build/deep/x.o"}


def test_a_deeper_file_overrides_the_root_as_in_git(tmp_path: Path) -> None:
    root = Ignore.from_text("*.log\n")
    rules(tmp_path, "proj/src", "!keep.log\n")
    found = ignored_remote(tmp_path, root, ENTRIES)
    assert found == {"top.log"}


def test_rules_inside_an_ignored_folder_are_never_read(tmp_path: Path) -> None:
    rules(tmp_path, "proj", "build/\n")
    (tmp_path / "proj/build").mkdir()
    (tmp_path / "proj/build/.syncdignore").write_bytes(b"\xff not utf-8")
    found = ignored_remote(tmp_path, Ignore(), ENTRIES)
    assert "proj/src/main.c" not in found and "proj/build/deep/x.o" in found


def test_unusable_rules_keep_the_servers_entries_out_of_their_folder(tmp_path: Path) -> None:
    rules(tmp_path, "proj", "")
    (tmp_path / "proj/.syncdignore").write_bytes(b"\xff not utf-8")
    found = ignored_remote(tmp_path, Ignore(), ENTRIES)
    assert found == {p for p, _ in ENTRIES if p.startswith("proj/")}


def test_no_files_on_disk_means_the_root_rules_alone(tmp_path: Path) -> None:
    root = Ignore.from_text("build/\n")
    found = ignored_remote(tmp_path, root, ENTRIES)
    assert found == {
        "proj/build",
        "proj/build/out.o",
        "proj/build/deep/x.o",
        "other/build/out.o",
    }


def test_a_linked_rules_file_is_not_read_as_the_scanner_does_not(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.txt").write_text("build/\n")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj/.syncdignore").symlink_to(tmp_path / "elsewhere.txt")
    assert ignored_remote(tmp_path, Ignore(), ENTRIES) == set()
