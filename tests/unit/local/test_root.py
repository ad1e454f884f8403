"""root.py: the folder marker turns an unmounted or replaced folder into a refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.errors import RootVanished, UsageError
from syncd.local.ignore import Ignore
from syncd.local.root import MARKER_NAME, RootStatus, check_root, ensure_marker, refuse_unless_ok
from syncd.local.scan import scan


def test_ensure_marker_creates_once(tmp_path: Path) -> None:
    folder_id = ensure_marker(tmp_path)
    assert json.loads((tmp_path / MARKER_NAME).read_text())["folder_id"] == folder_id
    assert ensure_marker(tmp_path) == folder_id
    assert [p.name for p in tmp_path.iterdir()] == [MARKER_NAME]  # no temp file left


def _unmounted(tmp_path: Path) -> Path:
    (tmp_path / "mnt").mkdir()
    return tmp_path / "mnt"


def _emptied_but_junk(tmp_path: Path) -> Path:
    (tmp_path / "mnt").mkdir()
    (tmp_path / "mnt" / ".DS_Store").write_bytes(b"")
    return tmp_path / "mnt"


def _replaced(tmp_path: Path) -> Path:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "a.txt").write_bytes(b"a")
    return tmp_path / "r"


def _other_folder(tmp_path: Path) -> Path:
    (tmp_path / "r").mkdir()
    ensure_marker(tmp_path / "r")
    return tmp_path / "r"


def _same_folder(tmp_path: Path) -> Path:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / MARKER_NAME).write_text(json.dumps({"folder_id": "abc"}))
    return tmp_path / "r"


def _a_file(tmp_path: Path) -> Path:
    (tmp_path / "f").write_bytes(b"")
    return tmp_path / "f"


CASES = [
    ("missing", lambda t: t / "nope", "abc", RootStatus.MISSING),
    ("file-not-folder", _a_file, "abc", RootStatus.MISSING),
    ("unmounted", _unmounted, "abc", RootStatus.EMPTY),
    ("only-junk", _emptied_but_junk, "abc", RootStatus.EMPTY),
    ("replaced", _replaced, "abc", RootStatus.MARKER_MISSING),
    ("other-folder", _other_folder, "abc", RootStatus.MARKER_MISMATCH),
    ("same-folder", _same_folder, "abc", RootStatus.OK),
    ("first-sync", _replaced, None, RootStatus.OK),
]


@pytest.mark.parametrize(
    ("make", "expected_id", "status"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_check_root(tmp_path: Path, make, expected_id: str | None, status: RootStatus) -> None:  # type: ignore[no-untyped-def]
    assert check_root(make(tmp_path), expected_id) is status


@pytest.mark.parametrize("status", [s for s in RootStatus if s is not RootStatus.OK])
def test_every_bad_status_is_a_safety_stop(status: RootStatus) -> None:
    with pytest.raises(RootVanished) as info:
        refuse_unless_ok(status)
    assert info.value.exit_code == 5 and info.value.hint
    refuse_unless_ok(RootStatus.OK)


def test_damaged_marker_is_never_taken_for_absent(tmp_path: Path) -> None:
    (tmp_path / MARKER_NAME).write_text("not json")
    with pytest.raises(UsageError):
        check_root(tmp_path, "abc")
    with pytest.raises(UsageError):
        ensure_marker(tmp_path)


def test_marker_is_not_synced(tmp_path: Path) -> None:
    ensure_marker(tmp_path)
    assert scan(tmp_path, ignore=Ignore(), cache=None).tree == {}
