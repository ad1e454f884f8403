"""``syncd serve``: the reference server of PROTOCOL.md (CLI.md, Reference server)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from syncd.server.settings import (
    DEFAULT_BATCH_BYTES,
    DEFAULT_BATCH_ITEMS,
    DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_MAX_BODY,
    DEFAULT_UPLOAD_TTL,
    MIN_BATCH_BYTES,
    MIN_BATCH_ITEMS,
    ServerSettings,
)


def prepare_data_dir(data_dir: Path) -> Path:
    """Create the data directory if needed, private to this user (``server/datadir.py``).

    A file, or a folder we cannot write, is UsageError.
    """
    from syncd.server.datadir import prepare

    return prepare(data_dir)


def database_url(data_dir: Path, url: str | None) -> str:
    from syncd.server.db import default_url

    return url or default_url(data_dir)


def read_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    """``--config FILE``: a TOML table of server options, keyed as the long options
    (``database_url``, ``data_dir``, ``port``...). They become the command's defaults, so
    the command line, then ``SYNCD_DATABASE_URL``, beat the file. ``admin`` reads the
    same file and takes ``data_dir`` and ``database_url`` from it.
    """
    if value is None:
        return
    import tomllib

    from syncd.errors import UsageError

    try:
        with open(value, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read config file {value}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"config file {value}: invalid TOML: {exc}") from exc
    names = {param.name for param in serve.params if param.name != "config"}
    unknown = sorted(set(data) - names)
    if unknown:
        raise UsageError(f"config file {value}: unknown key {unknown[0]!r}")
    own = {param.name for param in ctx.command.params}
    ctx.default_map = {**(ctx.default_map or {}), **{k: v for k, v in data.items() if k in own}}


def config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The ``--config`` option of ``serve`` and ``admin`` (read before the others)."""
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        is_eager=True,
        expose_value=False,
        callback=read_config,
        help="TOML file of server options, keyed as the long options with _ "
        "(database_url, data_dir, port, ...); command line and environment beat it.",
    )(fn)


@click.command("serve")
@config_option
@click.option(
    "--data-dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Where the database, blobs, uploads and backups live (created if missing).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="TCP port; 0 picks a free one (the 'listening on' line shows it).",
)
@click.option("--base-only", is_flag=True, help="Switch every extension off (base API only).")
@click.option(
    "--max-body",
    default=DEFAULT_MAX_BODY,
    show_default=True,
    type=click.IntRange(1),
    help="Largest request body in bytes (PUT or upload chunk); larger is 413 too_large.",
)
@click.option(
    "--history",
    default=None,
    type=click.IntRange(1),
    help="Keep change-feed history for the last N revisions (default: all).",
)
@click.option(
    "--upload-ttl",
    default=DEFAULT_UPLOAD_TTL,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds an unfinished upload session lives.",
)
@click.option(
    "--batch-max-items",
    default=DEFAULT_BATCH_ITEMS,
    show_default=True,
    type=click.IntRange(MIN_BATCH_ITEMS),
    help="Most records of one batch write, or paths of one batch read; more is 413.",
)
@click.option(
    "--batch-max-bytes",
    default=DEFAULT_BATCH_BYTES,
    show_default=True,
    type=click.IntRange(MIN_BATCH_BYTES),
    help="Most payload bytes of one batch write; more is 413 too_large.",
)
@click.option(
    "--database-url",
    default=None,
    envvar="SYNCD_DATABASE_URL",
    help="Metadata database: postgresql://USER@HOST/DB, or a SQLAlchemy URL "
    "(default: SQLite in the data directory; env SYNCD_DATABASE_URL, config database_url).",
)
@click.option(
    "--metrics/--no-metrics",
    default=True,
    show_default=True,
    help="Serve Prometheus metrics at GET /metrics (no API key; block it at the proxy).",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="Log one key=value line per request on stderr (never a key or a file name).",
)
@click.option(
    "--drain-timeout",
    default=DEFAULT_DRAIN_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds in-flight requests get to finish after SIGTERM before they are cut.",
)
def serve(
    data_dir: Path,
    host: str,
    port: int,
    base_only: bool,
    max_body: int,
    history: int | None,
    upload_ttl: float,
    batch_max_items: int,
    batch_max_bytes: int,
    database_url: str | None,
    metrics: bool,
    access_log: bool,
    drain_timeout: float,
) -> None:
    """Run the reference server until SIGTERM or SIGINT."""
    from syncd.server.datadir import private
    from syncd.server.run import serve as run_server

    with private():  # everything the server creates is its user's alone
        data_dir = prepare_data_dir(data_dir)
        settings = ServerSettings(
            data_dir=data_dir,
            database_url=_url(data_dir, database_url),
            base_only=base_only,
            max_body=max_body,
            history=history,
            upload_ttl=upload_ttl,
            batch_max_items=batch_max_items,
            batch_max_bytes=batch_max_bytes,
            metrics=metrics,
            access_log=access_log,
            drain_timeout=drain_timeout,
        )
        run_server(settings, host, port)


_url = database_url
