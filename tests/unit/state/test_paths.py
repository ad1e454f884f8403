"""state_db_path: one stable, distinct file per (server, workspace, folder), outside it."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.errors import UsageError
from syncd.state.paths import canonical_server, default_state_dir, state_db_path


def test_same_triple_gives_the_same_path(tmp_path: Path) -> None:
    state = tmp_path / "state"
    folder = tmp_path / "photos"
    first = state_db_path(state, "http://127.0.0.1:8765", "ws1", folder)
    again = state_db_path(state, "HTTP://127.0.0.1:8765/", "ws1", tmp_path / "x" / ".." / "photos")
    assert first == again
    assert first.parent == state
    assert first.name.startswith("127.0.0.1-8765_ws1_photos-")
    assert first.suffix == ".sqlite3"


@pytest.mark.parametrize(
    ("server", "workspace", "folder"),
    [
        ("http://127.0.0.1:8766", "ws1", "photos"),
        ("https://127.0.0.1:8765", "ws1", "photos"),
        ("http://127.0.0.1:8765", "ws2", "photos"),
        ("http://127.0.0.1:8765", "ws1", "other/photos"),
        ("http://127.0.0.1:8765/prefix", "ws1", "photos"),
    ],
)
def test_any_differing_part_gives_another_path(
    tmp_path: Path, server: str, workspace: str, folder: str
) -> None:
    reference = state_db_path(tmp_path / "s", "http://127.0.0.1:8765", "ws1", tmp_path / "photos")
    assert state_db_path(tmp_path / "s", server, workspace, tmp_path / folder) != reference


def test_credentials_never_reach_the_file_name(tmp_path: Path) -> None:
    with_password = state_db_path(tmp_path, "http://bob:s3cret@example.org", "w", tmp_path / "f")
    assert "s3cret" not in str(with_password)
    assert with_password == state_db_path(tmp_path, "http://example.org", "w", tmp_path / "f")
    assert canonical_server("http://bob:s3cret@Example.ORG:80/") == "http://example.org"


def test_hostile_names_become_a_safe_slug(tmp_path: Path) -> None:
    db = state_db_path(tmp_path / "s", "http://h", "../../etc/passwd", tmp_path / "a b")
    assert db.parent == tmp_path / "s"
    assert "/" not in db.name and " " not in db.name


def test_invalid_url_is_a_usage_error_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        state_db_path(tmp_path, "not a url", "w", tmp_path / "f")
    assert info.value.exit_code == 2
    with pytest.raises(UsageError) as info:
        canonical_server("http://u:pw@host:notaport")
    assert "pw" not in str(info.value)


def test_state_dir_inside_the_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    with pytest.raises(UsageError, match="inside the synced folder"):
        state_db_path(folder / ".state", "http://h", "w", folder)
    with pytest.raises(UsageError):
        state_db_path(folder, "http://h", "w", folder)


def test_default_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / "syncd"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_dir() == Path.home() / ".local" / "state" / "syncd"
