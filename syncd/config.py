"""Configuration: TOML file + ``SYNCD_*`` environment + flags -> one frozen ``Settings``.

1. Precedence per option: a flag beats the environment, which beats the file, which beats
   the default. A flag or variable that is absent (``None``) does not count as given.
2. Every mistake (unreadable or bad TOML, unknown key, bad value, invalid URL) is a
   ``UsageError`` with one line naming the source and the key.
3. The API key comes from ``--api-key-file``, else ``SYNCD_API_KEY``, else the file's
   ``api_key`` (or ``api_key_file``); it never appears in a repr or a message.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from syncd.errors import UsageError
from syncd.transport.client import TransportSettings

LOG_LEVELS = ("debug", "info", "warning", "error")


def _xdg(var: str, fallback: str, env: Mapping[str, str]) -> Path:
    value = env.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or os.path.expanduser("~")) / fallback


@dataclass(frozen=True)
class Settings:
    """Everything a client command needs; build it with ``load_settings``."""

    server: str | None = None
    workspace: str | None = None
    dir: Path | None = None
    api_key: str | None = field(default=None, repr=False)
    state_dir: Path = Path("~/.local/state/syncd")
    max_delete: str | None = None  # "N%" or "N"; None = more than 50% and more than 20 files
    allow_mass_delete: bool = False
    dry_run: bool = False
    transfers: int = 4
    timeout: float = 30.0
    max_retries: int = 5
    deadline: float = 300.0
    chunk_size: int = 4 * 1024 * 1024
    upload_threshold: int = 8 * 1024 * 1024
    batch_threshold: int = 1024 * 1024
    verify: bool = True
    ca_bundle: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    bandwidth_limit: int | None = None
    http2: bool = False
    feed_wait: float = 30.0
    poll_interval: float = 30.0
    rescan_interval: float = 6 * 3600.0
    debounce: float = 0.5
    log_level: str = "info"

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if f.name == 'api_key' and self.api_key else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"Settings({shown})"

    def transport(self) -> TransportSettings:
        """The transport's knobs; needs ``server`` and ``api_key``."""
        if not self.server:
            raise UsageError("missing --server (give it on the command line or in the config file)")
        if not self.api_key:
            raise UsageError(
                "missing API key: --api-key-file, SYNCD_API_KEY or api_key in the config"
            )
        cert: str | tuple[str, str] | None = None
        if self.client_cert is not None:
            cert = (
                (str(self.client_cert), str(self.client_key))
                if self.client_key
                else str(self.client_cert)
            )
        return TransportSettings(
            base_url=self.server,
            api_key=self.api_key,
            timeout=self.timeout,
            max_retries=self.max_retries,
            deadline=self.deadline,
            chunk_size=self.chunk_size,
            upload_threshold=self.upload_threshold,
            verify=str(self.ca_bundle) if self.ca_bundle is not None else self.verify,
            client_cert=cert,
            concurrency=self.transfers,
            bandwidth_limit=self.bandwidth_limit,
            http2=self.http2,
        )


# -- value parsers: each takes what TOML, the environment or click gave ----------------

_SIZE_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "kb": 1000, "mb": 1000**2}
_SIZE_UNITS |= {"gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_TIME_UNITS = {"": 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _number(value: Any, units: Mapping[str, float], what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected {what}")
    if isinstance(value, int | float):
        return float(value)
    match = _NUMBER.match(str(value))
    if not match or match.group(2).lower() not in units:
        raise ValueError(f"expected {what}")
    return float(match.group(1)) * units[match.group(2).lower()]


def parse_size(value: Any) -> int:
    """Bytes: ``4194304``, ``"4MiB"``, ``"8M"`` (decimal) or ``"512KiB"``; must be positive."""
    size = int(_number(value, _SIZE_UNITS, "a size like 4194304 or '4MiB'"))
    if size <= 0:
        raise ValueError("must be positive")
    return size


def parse_size_or_off(value: Any) -> int:
    """A size, or ``0`` / ``"off"`` for none (a threshold that switches a feature off)."""
    if not isinstance(value, bool) and str(value).strip().lower() in ("0", "off"):
        return 0
    return parse_size(value)


def parse_optional_size(value: Any) -> int | None:
    if value in (None, "", 0, "0", "none", "unlimited"):
        return None
    return parse_size(value)


def parse_duration(value: Any) -> float:
    """Seconds: ``30``, ``0.5``, ``"500ms"``, ``"6h"``; must not be negative."""
    seconds = _number(value, _TIME_UNITS, "a duration like 30, '500ms' or '6h'")
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def parse_count(value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise ValueError("expected a whole number")
    number = int(str(value).strip())
    if number < low:
        raise ValueError(f"must be at least {low}")
    return number


def parse_url(value: Any) -> str:
    """An http(s) base URL without query or fragment; the trailing ``/`` is dropped."""
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("the URL must not carry a query, fragment or credentials")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError("the URL has an invalid port") from exc
    return text.rstrip("/")


def parse_max_delete(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]+%?", text) or (text.endswith("%") and int(text[:-1]) > 100):
        raise ValueError("expected N or N% (0 to 100%)")
    return text


def parse_log_level(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return text


def _path(value: Any) -> Path:
    text = str(value).strip()
    if not text:
        raise ValueError("expected a path")
    return Path(text).expanduser()


def _existing_file(value: Any) -> Path:
    path = _path(value)
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path


def _text(value: Any) -> str:
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


PARSERS: dict[str, Callable[[Any], Any]] = {
    "server": parse_url,
    "workspace": _text,
    "dir": _path,
    "state_dir": _path,
    "max_delete": parse_max_delete,
    "allow_mass_delete": parse_bool,
    "dry_run": parse_bool,
    "transfers": lambda v: parse_count(v, 1),
    "timeout": parse_duration,
    "max_retries": parse_count,
    "deadline": parse_duration,
    "chunk_size": parse_size,
    "upload_threshold": parse_size,
    "batch_threshold": parse_size_or_off,
    "verify": parse_bool,
    "ca_bundle": _existing_file,
    "client_cert": _existing_file,
    "client_key": _existing_file,
    "bandwidth_limit": parse_optional_size,
    "http2": parse_bool,
    "feed_wait": parse_duration,
    "poll_interval": parse_duration,
    "rescan_interval": parse_duration,
    "debounce": parse_duration,
    "log_level": parse_log_level,
}
# Keys that are read but are not Settings fields of their own.
KEY_SOURCES = ("api_key", "api_key_file")


def env_name(key: str) -> str:
    """The environment variable of a setting: ``chunk_size`` -> ``SYNCD_CHUNK_SIZE``."""
    return "SYNCD_" + key.upper()


def default_config_file(env: Mapping[str, str]) -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config", env) / "syncd" / "config.toml"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path}: invalid TOML: {exc}") from exc
    known = set(PARSERS) | set(KEY_SOURCES)
    for key, value in data.items():
        if key not in known:
            raise UsageError(f"config file {path}: unknown key {key!r}")
        if isinstance(value, dict | list):
            raise UsageError(f"config file {path}: {key!r} must be a single value")
    return data


def _read_key_file(path: Any, source: str) -> str:
    try:
        key = Path(str(path)).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{source}: cannot read the API key file {path}") from exc
    if not key:
        raise UsageError(f"{source}: the API key file {path} is empty")
    return key


def _api_key(
    flags: Mapping[str, Any], env: Mapping[str, str], data: Mapping[str, Any]
) -> str | None:
    if flags.get("api_key_file") is not None:
        return _read_key_file(flags["api_key_file"], "--api-key-file")
    if env.get("SYNCD_API_KEY"):
        return env["SYNCD_API_KEY"].strip()
    if env.get("SYNCD_API_KEY_FILE"):
        return _read_key_file(env["SYNCD_API_KEY_FILE"], "SYNCD_API_KEY_FILE")
    if data.get("api_key"):
        return str(data["api_key"]).strip()
    if data.get("api_key_file"):
        return _read_key_file(data["api_key_file"], "config file api_key_file")
    return None


def load_settings(
    flags: Mapping[str, Any],
    *,
    config_file: Path | str | None,
    env: Mapping[str, str] = os.environ,
) -> Settings:
    """Merge flags, environment, config file and defaults into one ``Settings``.

    ``config_file`` None means the default file, read only when it exists; a named file
    must exist. ``SYNCD_CONFIG`` names the file when no flag does.
    """
    unknown = set(flags) - set(PARSERS) - {"api_key_file"}
    if unknown:
        raise UsageError(f"unknown setting {sorted(unknown)[0]!r}")
    if config_file is None and env.get("SYNCD_CONFIG"):
        config_file = env["SYNCD_CONFIG"]
    if config_file is not None:
        data = _read_file(Path(config_file).expanduser())
    else:
        default = default_config_file(env)
        data = _read_file(default) if default.is_file() else {}
    values: dict[str, Any] = {}
    for key, parse in PARSERS.items():
        for source, raw in (
            (f"--{key.replace('_', '-')}", flags.get(key)),
            (env_name(key), env.get(env_name(key))),
            (f"config file key {key!r}", data.get(key)),
        ):
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            try:
                values[key] = parse(raw)
            except ValueError as exc:
                raise UsageError(f"{source}: {exc}") from exc
            break
    values.setdefault("state_dir", _xdg("XDG_STATE_HOME", ".local/state", env) / "syncd")
    values["api_key"] = _api_key(flags, env, data)
    if values.get("client_key") is not None and values.get("client_cert") is None:
        raise UsageError("client_key needs client_cert")
    return Settings(**values)
