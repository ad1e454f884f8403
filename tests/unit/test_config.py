"""Settings from flags, SYNCD_* variables, the TOML file and defaults, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import DeleteLimit, Settings, default_config_file, load_settings
from syncd.errors import UsageError
from syncd.planner.ops import Policy
from syncd.transport.client import Client

KEY = "sk-test-secret-key"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """An environment whose HOME is empty and which has no XDG variables."""
    return {"HOME": str(tmp_path / "home")}


def test_defaults(home: dict[str, str], tmp_path: Path) -> None:
    settings = load_settings({}, config_file=None, env=home)
    assert settings.server is None and settings.api_key is None
    assert settings.transfers == 4 and settings.feed_wait == 30 and settings.debounce == 0.5
    assert settings.rescan_interval == 6 * 3600 and settings.log_level == "info"
    assert settings.state_dir == tmp_path / "home/.local/state/syncd"


def test_flag_beats_env_beats_file(home: dict[str, str], tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.toml",
        'server = "http://file:1"\nworkspace = "from-file"\ntransfers = 2\ntimeout = 5\n',
    )
    env = {**home, "SYNCD_SERVER": "http://env:2", "SYNCD_TRANSFERS": "3"}
    settings = load_settings({"server": "http://flag:3/"}, config_file=config, env=env)
    assert settings.server == "http://flag:3"
    assert settings.transfers == 3
    assert settings.workspace == "from-file" and settings.timeout == 5.0


def test_default_file_is_read_when_it_exists(home: dict[str, str], tmp_path: Path) -> None:
    env = {**home, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    assert default_config_file(env) == tmp_path / "xdg/syncd/config.toml"
    write(default_config_file(env), 'chunk_size = "1MiB"\nbandwidth_limit = "10M"\n')
    settings = load_settings({}, config_file=None, env=env)
    assert settings.chunk_size == 1024 * 1024 and settings.bandwidth_limit == 10_000_000


def test_api_key_order_and_redaction(home: dict[str, str], tmp_path: Path) -> None:
    key_file = write(tmp_path / "key", KEY + "\n")
    config = write(tmp_path / "c.toml", 'api_key = "from-file"\n')
    env = {**home, "SYNCD_API_KEY": "from-env"}
    assert load_settings({}, config_file=config, env=home).api_key == "from-file"
    assert load_settings({}, config_file=config, env=env).api_key == "from-env"
    settings = load_settings({"api_key_file": str(key_file)}, config_file=config, env=env)
    assert settings.api_key == KEY
    assert KEY not in repr(settings) and KEY not in str(settings)
    transport = load_settings(
        {"api_key_file": str(key_file), "server": "https://h"}, config_file=None, env=home
    ).transport()
    assert transport.api_key == KEY and KEY not in repr(transport)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server = ", "invalid TOML"),
        ("colour = 1\n", "unknown key 'colour'"),
        ('server = "ftp://x"\n', "server"),
        ('server = "http://"\n', "server"),
        ("transfers = 0\n", "transfers"),
        ('max_delete = "lots"\n', "max_delete"),
        ('max_delete = "150%"\n', "max_delete"),
        ('timeout = "soon"\n', "timeout"),
        ('log_level = "loud"\n', "log_level"),
        ('ca_bundle = "/no/such/ca.pem"\n', "ca_bundle"),
        ("[transport]\ntimeout = 1\n", "unknown key"),
    ],
)
def test_bad_config_is_one_clear_usage_error(
    home: dict[str, str], tmp_path: Path, text: str, message: str
) -> None:
    config = write(tmp_path / "c.toml", text)
    with pytest.raises(UsageError, match=message) as info:
        load_settings({}, config_file=config, env=home)
    assert "\n" not in str(info.value) and info.value.exit_code == 2


def test_bad_env_and_flag_values_name_their_source(home: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="SYNCD_HTTP2"):
        load_settings({}, config_file=None, env={**home, "SYNCD_HTTP2": "maybe"})
    with pytest.raises(UsageError, match="--server"):
        load_settings({"server": "not a url"}, config_file=None, env=home)


def test_missing_named_config_file(home: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read config file"):
        load_settings({}, config_file=tmp_path / "nope.toml", env=home)


def test_sizes_durations_and_tls(home: dict[str, str], tmp_path: Path) -> None:
    ca = write(tmp_path / "ca.pem", "x")
    cert = write(tmp_path / "c.pem", "x")
    key = write(tmp_path / "k.pem", "x")
    env = {
        **home,
        "SYNCD_UPLOAD_THRESHOLD": "16MiB",
        "SYNCD_RESCAN_INTERVAL": "2h",
        "SYNCD_DEBOUNCE": "250ms",
        "SYNCD_CA_BUNDLE": str(ca),
        "SYNCD_CLIENT_CERT": str(cert),
        "SYNCD_CLIENT_KEY": str(key),
        "SYNCD_API_KEY": KEY,
        "SYNCD_SERVER": "https://example.org/prefix",
        "SYNCD_MAX_DELETE": "10%",
    }
    settings = load_settings({"transfers": 8, "dry_run": True}, config_file=None, env=env)
    assert settings.upload_threshold == 16 * 1024 * 1024
    assert settings.rescan_interval == 7200 and settings.debounce == 0.25
    assert settings.max_delete == DeleteLimit(count=0, ratio=0.1) and settings.dry_run is True
    transport = settings.transport()
    assert transport.verify == str(ca)
    assert transport.client_cert == (str(cert), str(key))
    assert transport.concurrency == 8 and transport.base_url == "https://example.org/prefix"


def test_verify_off_and_unknown_flag(home: dict[str, str]) -> None:
    settings = load_settings({}, config_file=None, env={**home, "SYNCD_VERIFY": "false"})
    assert settings.verify is False
    with pytest.raises(UsageError, match="unknown setting"):
        load_settings({"colour": "red"}, config_file=None, env=home)


def test_transport_needs_server_and_key() -> None:
    with pytest.raises(UsageError, match="--server"):
        Settings(api_key=KEY).transport()
    with pytest.raises(UsageError, match="API key") as info:
        Settings(server="http://h").transport()
    assert KEY not in str(info.value)


def test_retry_settings_reach_the_transports_retry_policy(
    home: dict[str, str], tmp_path: Path
) -> None:
    config = write(tmp_path / "c.toml", 'server = "http://h"\nmax_retries = 2\ndeadline = "90s"\n')
    settings = load_settings({}, config_file=config, env={**home, "SYNCD_API_KEY": KEY})
    with Client(settings.transport()) as client:
        assert (client.connection.policy.max_retries, client.connection.policy.deadline) == (2, 90)
        client.sleep_between_retries(lambda _seconds: None)  # as the daemon does
        policy = client.connection.policy
    assert (policy.max_retries, policy.deadline) == (2, 90)
    # The backoff is no setting: always the documented 0.5 s doubling, at most 30 s.
    assert (policy.backoff_initial, policy.backoff_max) == (0.5, 30)
    env = {**home, "SYNCD_API_KEY": KEY, "SYNCD_MAX_RETRIES": "0", "SYNCD_DEADLINE": "1m"}
    settings = load_settings({}, config_file=config, env=env)
    policy = settings.transport().retry_policy()
    assert (policy.max_retries, policy.deadline) == (0, 60)
    with pytest.raises(UsageError, match="unknown key 'backoff_max'"):
        load_settings({}, config_file=write(tmp_path / "b.toml", "backoff_max = 5\n"), env=home)


def test_every_key_of_the_file_has_its_toml_types() -> None:
    from syncd.config import FILE_TYPES, KEY_SOURCES, PARSERS

    assert set(FILE_TYPES) == set(PARSERS) | set(KEY_SOURCES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [(KEY + "\n", KEY), (KEY + "\r\n", KEY), (KEY, KEY)],
    ids=["echo", "crlf", "bare"],
)
def test_a_key_file_may_end_in_one_line_break(
    home: dict[str, str], tmp_path: Path, text: str, expected: str
) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(text.encode())
    settings = load_settings({"api_key_file": str(key_file)}, config_file=None, env=home)
    assert settings.api_key == expected


@pytest.mark.parametrize("bad", [KEY + "\n\n", " " + KEY, KEY + "\nmore", KEY + "é"])
def test_a_key_that_cannot_be_a_header_is_refused_without_quoting_it(
    home: dict[str, str], tmp_path: Path, bad: str
) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(bad.encode())
    sources = [
        ({"api_key_file": str(key_file)}, home, "--api-key-file"),
        ({}, {**home, "SYNCD_API_KEY": bad}, "SYNCD_API_KEY"),
        ({}, {**home, "SYNCD_API_KEY_FILE": str(key_file)}, "SYNCD_API_KEY_FILE"),
    ]
    for flags, env, source in sources:
        with pytest.raises(UsageError, match="API key cannot be used") as info:
            load_settings(flags, config_file=None, env=env)
        assert source in str(info.value) and KEY[:8] not in str(info.value)
        assert info.value.exit_code == 2


def test_the_delete_limit_is_parsed_once_with_the_planner_defaults():
    default = load_settings({}, config_file=None, env={}).max_delete
    policy = Policy()
    assert (default.count, default.ratio) == (policy.max_delete_count, policy.max_delete_ratio)
    assert str(default) == "more than 50% and more than 20 files"
    assert DeleteLimit.parse(" 10% ") == DeleteLimit(count=0, ratio=0.1)
    assert DeleteLimit.parse("7") == DeleteLimit(count=7, ratio=0.0)
    assert repr(DeleteLimit.parse("10%")) == "'10%'"  # the reload log line spells it so
    for bad in ("lots", "150%", "-1", "1.5%", ""):
        with pytest.raises(ValueError):
            DeleteLimit.parse(bad)
    flagged = load_settings({"max_delete": "5"}, config_file=None, env={})
    assert flagged.max_delete == DeleteLimit(count=5, ratio=0.0)


def test_batch_threshold_is_a_size_or_off(home: dict[str, str], tmp_path: Path) -> None:
    assert load_settings({}, config_file=None, env=home).batch_threshold == 1024 * 1024
    env = {**home, "SYNCD_BATCH_THRESHOLD": "256KiB"}
    assert load_settings({}, config_file=None, env=env).batch_threshold == 256 * 1024
    for off in ("0", "off"):
        config = write(tmp_path / f"{off}.toml", f'batch_threshold = "{off}"\n')
        assert load_settings({}, config_file=config, env=home).batch_threshold == 0
    config = write(tmp_path / "zero.toml", "batch_threshold = 0\n")
    assert load_settings({}, config_file=config, env=home).batch_threshold == 0
    for bad in ("batch_threshold = true\n", 'batch_threshold = "-1"\n', 'batch_threshold = "x"\n'):
        config = write(tmp_path / "bad.toml", bad)
        with pytest.raises(UsageError, match="batch_threshold"):
            load_settings({}, config_file=config, env=home)


def test_exclude_is_a_list_of_paths_in_the_file_and_commas_in_the_environment(tmp_path):
    from syncd.config import load_settings

    cfg = tmp_path / "c.toml"
    cfg.write_text('exclude = ["big/", "Photos/2019"]\n')
    assert load_settings({}, config_file=cfg, env={}).exclude == ("Photos/2019", "big")
    env = {"SYNCD_EXCLUDE": "a, b/c"}
    assert load_settings({}, config_file=None, env=env | {"HOME": str(tmp_path)}).exclude == (
        "a",
        "b/c",
    )
    cfg.write_text('exclude = ["/abs"]\n')
    with pytest.raises(UsageError, match="bad path"):
        load_settings({}, config_file=cfg, env={})
