"""Configuration: TOML file + ``SYNCD_*`` environment + flags -> one frozen ``Settings``.

1. Precedence per option: a flag beats the environment, which beats the file, which beats
   the default. A flag or variable that is absent (``None``) does not count as given.
2. Every mistake (unreadable, not UTF-8 or bad TOML, unknown key, a value of the wrong
   TOML type or a bad value, invalid URL) is a ``UsageError`` with one line naming the
   source and the key. Every value in the file is checked, also one a flag overrides.
3. The API key comes from ``--api-key-file``, else ``SYNCD_API_KEY``, else the file's
   ``api_key`` (or ``api_key_file``); it never appears in a repr or a message. A key file
   may end in one line break (``echo KEY > file``); any other whitespace, a control or a
   non-ASCII character makes the key unusable in a header, so it is refused at load.
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
from syncd.planner.ops import MASS_DELETE_COUNT, MASS_DELETE_RATIO
from syncd.transport.client import TransportSettings
from syncd.transport.secret import key_problem

LOG_LEVELS = ("debug", "info", "warning", "error")
SYMLINKS = ("skip", "follow")


def _xdg(var: str, fallback: str, env: Mapping[str, str]) -> Path:
    value = env.get(var)
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or os.path.expanduser("~")) / fallback


@dataclass(frozen=True, repr=False)
class DeleteLimit:
    """The mass-delete threshold: a sync that deletes more than both is refused.

    ``N%`` sets only the ratio, ``N`` only the count; unset is the CLI.md default.
    """

    count: int = MASS_DELETE_COUNT
    ratio: float = MASS_DELETE_RATIO

    @classmethod
    def parse(cls, value: Any) -> DeleteLimit:
        """``"10%"`` or ``"20"`` (0 to 100%); ValueError otherwise."""
        text = str(value).strip()
        if not re.fullmatch(r"[0-9]+%?", text) or (text.endswith("%") and int(text[:-1]) > 100):
            raise ValueError("expected N or N% (0 to 100%)")
        if text.endswith("%"):
            return cls(count=0, ratio=int(text[:-1]) / 100.0)
        return cls(count=int(text), ratio=0.0)

    def __str__(self) -> str:
        if self.count == 0:
            return f"{self.ratio:.0%}"
        if self.ratio == 0.0:
            return str(self.count)
        return f"more than {self.ratio:.0%} and more than {self.count} files"

    def __repr__(self) -> str:  # as the user spells it, e.g. in the reload log line
        return repr(str(self))


@dataclass(frozen=True)
class Settings:
    """Everything a client command needs; build it with ``load_settings``."""

    server: str | None = None
    workspace: str | None = None
    dir: Path | None = None
    api_key: str | None = field(default=None, repr=False)
    state_dir: Path = Path("~/.local/state/syncd")
    max_delete: DeleteLimit = DeleteLimit()
    allow_mass_delete: bool = False
    dry_run: bool = False
    transfers: int = 4
    timeout: float = 30.0
    max_retries: int = 5
    deadline: float = 300.0
    chunk_size: int = 8 * 1024 * 1024  # the reference server's limit; never sent above a server's
    upload_threshold: int = 8 * 1024 * 1024
    batch_threshold: int = 1024 * 1024
    slice_paths: int = 5_000  # changed paths a full sync plans at once; 0: the whole tree
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
    notifications: bool = True  # desktop notifications of the daemon (daemon/desktop.py)
    symlinks: str = "skip"  # "follow": links to files inside the folder sync their content
    trash_retention_days: int = 30
    trash_max_size: int | str | None = "10%"  # bytes, "N%" of the disk, or None: no cap
    min_free_space: int | str | None = None  # bytes, "N%"; None: 1 GiB or 5%; 0: no guard
    mode: str = "two-way"  # "upload-only" / "download-only": write one side only
    propagate_deletes: bool = False  # upload-only: a local delete deletes the remote file
    exclude: tuple[str, ...] = ()  # folder-relative paths this device does not sync

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if f.name == 'api_key' and self.api_key else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"Settings({shown})"

    def tls_verify(self) -> bool | str:
        """What the transport verifies against: ``verify = false`` (``--no-verify-tls``)
        turns verification off even where a ``ca_bundle`` is set, else the bundle, else
        the system's CAs."""
        if not self.verify:
            return False
        return str(self.ca_bundle) if self.ca_bundle is not None else True

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
            verify=self.tls_verify(),
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


def parse_timeout(value: Any) -> float:
    """A duration above zero: a timeout of 0 would fail every request at once."""
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("must be more than 0 seconds")
    return seconds


def parse_count(value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise ValueError("expected a whole number")
    number = int(str(value).strip())
    if number < low:
        raise ValueError(f"must be at least {low}")
    return number


_API_PATH = re.compile(r"/api/v[0-9]+(/.*)?$")


def parse_url(value: Any) -> str:
    """An http(s) base URL without query or fragment; the trailing ``/`` is dropped.

    The base URL is where ``/api/v1/...`` starts: a URL that already holds that prefix
    would make every request miss, so it is refused naming the URL to give instead (any
    other path is a prefix a proxy may serve the API under).
    """
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        if "://" not in text and text:
            raise ValueError(f"expected an http:// or https:// URL, e.g. http://{text}")
        raise ValueError("expected an http:// or https:// URL with a host")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("the URL must not carry a query, fragment or credentials")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError("the URL has an invalid port") from exc
    api = _API_PATH.search(parts.path.rstrip("/"))
    if api is not None:
        base = parts._replace(path=parts.path[: api.start()]).geturl()
        raise ValueError(f"give the server's base URL without the API path: {base}")
    return text.rstrip("/")


def parse_log_level(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return text


def parse_symlinks(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in SYMLINKS:
        raise ValueError(f"expected one of {', '.join(SYMLINKS)}")
    return text


MODES = ("two-way", "upload-only", "download-only")


def parse_mode(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in MODES:
        raise ValueError(f"expected one of {', '.join(MODES)}")
    return text


def parse_exclude(value: Any) -> tuple[str, ...]:
    """Selective sync: a TOML list of folder-relative paths, or one comma-separated string."""
    from syncd.errors import InvalidPath
    from syncd.paths import normalize

    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a list of folder-relative paths")
    result = []
    for item in items:
        if not item.strip():
            continue
        try:
            result.append(normalize(item.strip().rstrip("/")))
        except InvalidPath as exc:
            raise ValueError(f"bad path {item!r}: {exc}") from exc
    return tuple(sorted(set(result)))


def parse_trash_max_size(value: Any) -> int | str | None:
    """A size (``"2GiB"``), a share of the disk (``"10%"``), or ``"unlimited"``."""
    text = str(value).strip().lower()
    if text in ("none", "unlimited"):
        return None
    if text.endswith("%"):
        try:
            share = float(text[:-1])
        except ValueError:
            share = -1.0
        if not 0 < share <= 100:
            raise ValueError("expected a size like '2GiB', a share like '10%', or 'unlimited'")
        return f"{share:g}%"
    return parse_size(value)


def parse_min_free_space(value: Any) -> int | str | None:
    """Space a download must leave free: a size (``"2GiB"``), a share of the disk
    (``"5%"``), ``"auto"`` (1 GiB or 5%, whichever is less) or ``0`` / ``"off"``."""
    text = str(value).strip().lower()
    if isinstance(value, bool):
        raise ValueError("expected a size like '2GiB', a share like '5%', 'auto' or 'off'")
    if text == "auto":
        return None
    if text in ("0", "off"):
        return 0
    if text.endswith("%"):
        try:
            share = float(text[:-1])
        except ValueError:
            share = -1.0
        if not 0 <= share < 100:
            raise ValueError("expected a size like '2GiB', a share like '5%', 'auto' or 'off'")
        return f"{share:g}%"
    try:
        return parse_size(value)
    except ValueError:
        raise ValueError(
            "expected a size like '2GiB', a share like '5%', 'auto' or 'off'"
        ) from None


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
    "max_delete": DeleteLimit.parse,
    "allow_mass_delete": parse_bool,
    "dry_run": parse_bool,
    "transfers": lambda v: parse_count(v, 1),
    "timeout": parse_timeout,
    "max_retries": parse_count,
    "deadline": parse_duration,
    "chunk_size": parse_size,
    "upload_threshold": parse_size,
    "batch_threshold": parse_size_or_off,
    "slice_paths": parse_count,
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
    "notifications": parse_bool,
    "symlinks": parse_symlinks,
    "trash_retention_days": lambda v: parse_count(v, 1),
    "trash_max_size": parse_trash_max_size,
    "min_free_space": parse_min_free_space,
    "mode": parse_mode,
    "propagate_deletes": parse_bool,
    "exclude": parse_exclude,
}
# Keys that are read but are not Settings fields of their own.
KEY_SOURCES = ("api_key", "api_key_file")

_TEXT = (str,)
LIST_KEYS = ("exclude",)  # the keys whose TOML value is a list
_BOOL = (bool,)
_NUMERIC = (int, float, str)  # a str carries a unit: "4MiB", "500ms"
_COUNT = (int, str)
# The TOML types each key may have in the config file.
FILE_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(
        ("server", "workspace", "dir", "state_dir", "ca_bundle", "client_cert", "client_key"),
        _TEXT,
    ),
    **dict.fromkeys(("log_level", "symlinks", "mode", *KEY_SOURCES), _TEXT),
    "exclude": (list, str),
    **dict.fromkeys(("allow_mass_delete", "dry_run", "verify", "http2"), _BOOL),
    "propagate_deletes": _BOOL,
    "notifications": _BOOL,
    **dict.fromkeys(
        ("transfers", "max_retries", "max_delete", "trash_retention_days", "slice_paths"), _COUNT
    ),
    **dict.fromkeys(
        (
            "chunk_size",
            "upload_threshold",
            "bandwidth_limit",
            "trash_max_size",
            "batch_threshold",
            "min_free_space",
        ),
        _COUNT,
    ),
    **dict.fromkeys(
        ("timeout", "deadline", "feed_wait", "poll_interval", "rescan_interval", "debounce"),
        _NUMERIC,
    ),
}
_TYPE_NAMES = {
    (list, str): "a list of paths",
    _TEXT: "a string",
    _BOOL: "true or false",
    _COUNT: "a whole number or a string",
    _NUMERIC: "a number or a string",
}


def env_name(key: str) -> str:
    """The environment variable of a setting: ``chunk_size`` -> ``SYNCD_CHUNK_SIZE``."""
    return "SYNCD_" + key.upper()


def default_config_file(env: Mapping[str, str]) -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config", env) / "syncd" / "config.toml"


def _read_file(path: Path) -> dict[str, Any]:
    """The file's table, each key known and each value of its TOML type and valid."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"config file {path}: not valid UTF-8 text (byte {exc.start})",
            hint="TOML files are UTF-8",
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file {path}: invalid TOML: {exc}") from exc
    for key, value in data.items():
        kinds = FILE_TYPES.get(key)
        if kinds is None:
            raise UsageError(f"config file {path}: unknown key {key!r}")
        if isinstance(value, dict | list) and not (key in LIST_KEYS and isinstance(value, list)):
            raise UsageError(f"config file {path}: {key!r} must be a single value")
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise UsageError(f"config file {path}: {key!r} must be {_TYPE_NAMES[kinds]}")
        if key in PARSERS and not (isinstance(value, str) and not value.strip()):
            try:
                PARSERS[key](value)
            except ValueError as exc:
                raise UsageError(f"config file key {key!r}: {exc}") from exc
    return data


def _checked_key(key: str, source: str) -> str:
    """``key`` when it can go into a header; else one line naming the source, not the key."""
    problem = key_problem(key)
    if problem is not None:
        raise UsageError(
            f"{source}: the API key cannot be used: {problem}",
            hint="the key is one line of printable ASCII characters",
        )
    return key


def _read_key_file(path: Any, source: str) -> str:
    """The key a file holds; one line break at its end is how ``echo`` writes it."""
    name = Path(str(path)).expanduser()
    try:
        text = name.read_text(encoding="utf-8")
    except IsADirectoryError as exc:
        raise UsageError(f"{source}: the API key file {path} is a directory") from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"{source}: cannot read the API key file {path}: {reason}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source}: the API key file {path} is not UTF-8 text") from exc
    key = text.removesuffix("\n").removesuffix("\r")
    if not key:
        raise UsageError(f"{source}: the API key file {path} is empty")
    return _checked_key(key, f"{source} {path}")


def _api_key(
    flags: Mapping[str, Any], env: Mapping[str, str], data: Mapping[str, Any]
) -> str | None:
    if flags.get("api_key_file") is not None:
        return _read_key_file(flags["api_key_file"], "--api-key-file")
    if env.get("SYNCD_API_KEY"):
        return _checked_key(env["SYNCD_API_KEY"], "SYNCD_API_KEY")
    if env.get("SYNCD_API_KEY_FILE"):
        return _read_key_file(env["SYNCD_API_KEY_FILE"], "SYNCD_API_KEY_FILE")
    if data.get("api_key"):
        return _checked_key(str(data["api_key"]), "config file key 'api_key'")
    if data.get("api_key_file"):
        return _read_key_file(data["api_key_file"], "config file api_key_file")
    return None


def _exists(path: Path) -> bool:
    """True when the default config file is there; a folder on the way that this user
    may not enter hides it, which is a usage error rather than an absent file."""
    try:
        return path.is_file()
    except OSError as exc:
        raise UsageError(f"cannot read config file {path}: {exc.strerror}") from exc


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
        data = _read_file(default) if _exists(default) else {}
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
