"""The connection's flags of ``sync`` and ``run``: parsed by click, merged by config.py.

One precedence for every knob (flag > ``SYNCD_*`` > config file > default) and one
parser per knob, so a bad value reads the same wherever it came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from syncd.cli.options import flags_of, transport_options
from syncd.cli.run import run
from syncd.cli.sync import sync
from syncd.config import load_settings
from syncd.errors import UsageError

KNOBS = (
    "--timeout",
    "--max-retries",
    "--bandwidth-limit",
    "--chunk-size",
    "--ca-bundle",
    "--client-cert",
    "--client-key",
    "--no-verify-tls",
    "--transfers",
)


@click.command()
@transport_options
def probe(**kwargs: Any) -> None:
    """Echo what the user gave, as sync and run hand it to load_settings."""
    click.echo(repr(sorted(flags_of(**kwargs).items())))


def given(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(probe, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(eval(result.output))


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home")}


@pytest.mark.parametrize("command", [sync, run], ids=["sync", "run"])
def test_sync_and_run_both_document_every_knob(command: click.Command) -> None:
    text = CliRunner().invoke(command, ["--help"], terminal_width=200).output
    for flag in KNOBS:
        assert flag in text, flag


def test_absent_flags_are_not_given() -> None:
    assert given() == {}
    assert given("--no-verify-tls") == {"verify": False}
    assert given("--verify-tls") == {"verify": True}


def test_flag_beats_env_beats_file_beats_default(home: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        'timeout = 7\nmax_retries = 2\nbandwidth_limit = "1MB"\nchunk_size = "2MiB"\n'
    )
    env = {**home, "SYNCD_TIMEOUT": "9", "SYNCD_BANDWIDTH_LIMIT": "2MB"}
    flags = given("--timeout", "500ms", "--chunk-size", "1MiB")
    settings = load_settings(flags, config_file=config, env=env)
    assert settings.timeout == 0.5  # flag
    assert settings.bandwidth_limit == 2_000_000  # environment
    assert settings.max_retries == 2  # file
    assert settings.chunk_size == 1024 * 1024  # flag over file
    assert settings.deadline == 300.0  # default
    bare = load_settings({}, config_file=None, env=home)
    assert (bare.timeout, bare.max_retries, bare.bandwidth_limit) == (30.0, 5, None)


def test_no_verify_tls_beats_a_ca_bundle_from_anywhere(home: dict[str, str], tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    env = {**home, "SYNCD_CA_BUNDLE": str(ca)}
    assert load_settings(given(), config_file=None, env=env).tls_verify() == str(ca)
    off = load_settings(given("--no-verify-tls"), config_file=None, env=env)
    assert off.tls_verify() is False
    on = load_settings(given("--verify-tls"), config_file=None, env={**home, "SYNCD_VERIFY": "0"})
    assert on.tls_verify() is True


def test_bandwidth_limit_unlimited_and_zero_mean_none(home: dict[str, str]) -> None:
    for text in ("0", "unlimited"):
        flags = given("--bandwidth-limit", text)
        assert load_settings(flags, config_file=None, env=home).bandwidth_limit is None
    flags = given("--bandwidth-limit", "512KiB")
    assert load_settings(flags, config_file=None, env=home).bandwidth_limit == 512 * 1024


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--bandwidth-limit", "10x"), "--bandwidth-limit: expected a size"),
        (("--timeout", "0"), "--timeout: must be more than 0 seconds"),
        (("--timeout", "soon"), "--timeout: expected a duration"),
        (("--max-retries", "-1"), "--max-retries: expected a whole number"),
        (("--chunk-size", "0"), "--chunk-size: must be positive"),
        (("--ca-bundle", "/nonexistent/ca.pem"), "--ca-bundle: no such file: /nonexistent"),
        (("--client-cert", "/nonexistent/c.pem"), "--client-cert: no such file"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_flag(
    home: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(UsageError, match=message) as info:
        load_settings(given(*args), config_file=None, env=home)
    assert "\n" not in str(info.value) and info.value.exit_code == 2


def test_the_environment_is_refused_with_the_same_words(home: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="SYNCD_BANDWIDTH_LIMIT: expected a size"):
        load_settings({}, config_file=None, env={**home, "SYNCD_BANDWIDTH_LIMIT": "10x"})
    with pytest.raises(UsageError, match="SYNCD_TIMEOUT: must be more than 0"):
        load_settings({}, config_file=None, env={**home, "SYNCD_TIMEOUT": "0s"})
