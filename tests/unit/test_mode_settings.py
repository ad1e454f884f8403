"""``mode`` and ``propagate_deletes`` load from the environment and the config file, and a
bad mode is one clear error."""

from __future__ import annotations

import pytest

from syncd.config import load_settings
from syncd.errors import UsageError


def test_mode_comes_from_the_environment_and_flags_win(tmp_path):
    env = {"HOME": str(tmp_path), "SYNCD_MODE": "Upload-Only", "SYNCD_PROPAGATE_DELETES": "true"}
    settings = load_settings({}, config_file=None, env=env)
    assert (settings.mode, settings.propagate_deletes) == ("upload-only", True)
    assert (
        load_settings({"mode": "download-only"}, config_file=None, env=env).mode == "download-only"
    )


def test_a_bad_mode_in_the_config_file_names_the_choices(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('mode = "sideways"\n')
    with pytest.raises(UsageError, match="two-way, upload-only, download-only"):
        load_settings({}, config_file=config, env={"HOME": str(tmp_path)})
