"""The options about the local folder and its trash: symlinks, trash retention and cap."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.errors import UsageError


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home")}


def test_defaults(home: dict[str, str]) -> None:
    settings = load_settings({}, config_file=None, env=home)
    assert settings.symlinks == "skip"
    assert settings.trash_retention_days == 30
    assert settings.trash_max_size == "10%"


def test_flag_env_and_file(home: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('symlinks = "follow"\ntrash_retention_days = 7\ntrash_max_size = "2GiB"\n')
    settings = load_settings({}, config_file=config, env=home)
    assert settings.symlinks == "follow"
    assert (settings.trash_retention_days, settings.trash_max_size) == (7, 2 * 1024**3)
    env = {**home, "SYNCD_SYMLINKS": "skip", "SYNCD_TRASH_MAX_SIZE": "unlimited"}
    settings = load_settings({"trash_retention_days": "3"}, config_file=config, env=env)
    assert settings.symlinks == "skip" and settings.trash_max_size is None
    assert settings.trash_retention_days == 3
    settings = load_settings({"trash_max_size": "25%"}, config_file=None, env=home)
    assert settings.trash_max_size == "25%"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("symlinks", "sometimes"),
        ("trash_retention_days", "0"),
        ("trash_retention_days", "a week"),
        ("trash_max_size", "150%"),
        ("trash_max_size", "0%"),
        ("trash_max_size", "lots"),
    ],
)
def test_bad_values_are_one_line_usage_errors(home: dict[str, str], key: str, value: str) -> None:
    with pytest.raises(UsageError, match=f"--{key.replace('_', '-')}"):
        load_settings({key: value}, config_file=None, env=home)
