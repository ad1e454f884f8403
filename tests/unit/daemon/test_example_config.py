"""config/syncd.example.toml names every option syncd reads, and every line of it loads."""

from __future__ import annotations

import re
from pathlib import Path

from syncd.config import KEY_SOURCES, PARSERS, DeleteLimit, Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "syncd.example.toml"
KEY_LINE = re.compile(r"^(#\s*)?([a-z0-9_]+)\s*=", re.MULTILINE)


def keys(text: str) -> dict[str, bool]:
    """key -> whether it is set (True) or only shown commented out (False)."""
    return {m.group(2): m.group(1) is None for m in KEY_LINE.finditer(text)}


def test_every_option_is_in_the_example():
    found = keys(EXAMPLE.read_text())
    assert set(PARSERS) | set(KEY_SOURCES) <= set(found)
    assert set(found) <= set(PARSERS) | set(KEY_SOURCES), "a key config.py does not know"


def test_the_example_loads_as_it_is(tmp_path):
    settings = load_settings({}, config_file=EXAMPLE, env={"HOME": str(tmp_path)})
    assert settings.server == "http://127.0.0.1:8765"
    # the values it shows are the defaults, so copying it changes nothing by surprise
    defaults = Settings()
    for name in ("transfers", "feed_wait", "poll_interval", "rescan_interval", "debounce"):
        assert getattr(settings, name) == getattr(defaults, name), name
    assert settings.chunk_size == defaults.chunk_size
    assert settings.bandwidth_limit is None


def test_the_example_loads_with_every_line_uncommented(tmp_path):
    text = EXAMPLE.read_text()
    for name in ("work.key", "my-ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("x")
    text = re.sub(
        r'"[^"]*/(work\.key|my-ca\.pem|client\.pem|client\.key)"',
        lambda m: f'"{tmp_path / m.group(1)}"',
        text,
    )
    text = re.sub(r"^#\s*([a-z0-9_]+\s*=)", r"\1", text, flags=re.MULTILINE)
    config = tmp_path / "all.toml"
    config.write_text(text)
    settings = load_settings({}, config_file=config, env={"HOME": str(tmp_path)})
    assert settings.max_delete == DeleteLimit(count=0, ratio=0.5)
    assert settings.client_key == tmp_path / "client.key"
    assert settings.api_key == "..."
