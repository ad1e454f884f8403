"""The options shared by ``sync``, ``run`` and ``status`` (CLI.md, Client)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from syncd.cli import complete
from syncd.planner.ops import MASS_DELETE_COUNT, MASS_DELETE_RATIO

F = Callable[..., Any]


def common_options(fn: F) -> F:
    """Add the common client options; each maps one-to-one to a Settings field."""
    decorators = [
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            help="TOML config file (default: $XDG_CONFIG_HOME/syncd/config.toml).",
        ),
        click.option("--server", help="Base URL of the server."),
        click.option(
            "--workspace",
            help="Workspace id, or a name to resolve.",
            shell_complete=complete.workspaces,
        ),
        click.option("--dir", "dir", type=click.Path(file_okay=False), help="The local folder."),
        click.option(
            "--api-key-file",
            type=click.Path(dir_okay=False),
            help="File holding the API key (else SYNCD_API_KEY, else the config).",
        ),
        click.option(
            "--state-dir",
            type=click.Path(file_okay=False),
            help="Where the state database lives (never inside the folder).",
        ),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def safety_options(fn: F) -> F:
    """Add the safety options of ``sync`` and ``run``."""
    decorators = [
        click.option(
            "--dry-run",
            is_flag=True,
            default=None,
            help="Print the plan with the reason for each op; change nothing.",
        ),
        click.option(
            "--max-delete",
            help="Mass-delete threshold, N or N% "
            f"(default: >{MASS_DELETE_RATIO:.0%} and >{MASS_DELETE_COUNT}).",
        ),
        click.option(
            "--allow-mass-delete",
            is_flag=True,
            default=None,
            help="Consent, for this run, to deletes above the threshold.",
        ),
        click.option(
            "--mode",
            type=click.Choice(["two-way", "upload-only", "download-only"]),
            help="two-way (default); upload-only: never change the local folder; "
            "download-only: never write to the server. A conflict keeps both versions.",
        ),
        click.option(
            "--propagate-deletes",
            is_flag=True,
            default=None,
            help="In upload-only mode, delete on the server what was deleted here.",
        ),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def local_options(fn: F) -> F:
    """Add the options of ``sync`` and ``run`` about the local folder and its trash."""
    decorators = [
        click.option(
            "--symlinks",
            type=click.Choice(["skip", "follow"]),
            help="skip (default): report links, sync nothing; follow: sync the content of "
            "links to files inside the folder.",
        ),
        click.option(
            "--trash-retention-days",
            help="Days the local trash keeps a replaced or deleted file (30).",
        ),
        click.option(
            "--trash-max-size",
            help="Trash size cap: '2GiB', '10%' of the disk (default) or 'unlimited'; "
            "entries younger than a day are kept above it.",
        ),
        click.option(
            "--min-free-space",
            metavar="SIZE|N%",
            help="Free space a download must leave on the folder's disk: '2GiB', '5%', "
            "'auto' (default: 1 GiB or 5%, whichever is less) or 'off'.",
        ),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def transport_options(fn: F) -> F:
    """Add the connection's knobs of ``sync`` and ``run``.

    Values stay text here so that a flag, its ``SYNCD_*`` variable and its config key are
    parsed and refused by one parser each (``syncd.config``), with one wording.
    """
    file = click.Path(dir_okay=False)
    decorators = [
        click.option("--transfers", type=click.IntRange(1, 64), help="Transfers in flight (4)."),
        click.option(
            "--timeout",
            metavar="SECONDS",
            help="Seconds to connect, or between two reads or writes of a request (30).",
        ),
        click.option(
            "--max-retries",
            metavar="N",
            help="Retries of one request after a transient failure (5).",
        ),
        click.option(
            "--bandwidth-limit",
            metavar="SIZE",
            help="Bytes per second for all transfers together, e.g. '2MB', '512KiB' "
            "(default unlimited; 0 or 'unlimited' for none). The daemon takes a change on SIGHUP.",
        ),
        click.option(
            "--chunk-size",
            metavar="SIZE",
            help="Upload session chunk, e.g. '8MiB' (default; never above the server's limit).",
        ),
        click.option(
            "--ca-bundle",
            type=file,
            help="PEM file of the CAs to trust instead of the system's.",
        ),
        click.option(
            "--client-cert",
            type=file,
            help="PEM client certificate for TLS (may hold its key too).",
        ),
        click.option(
            "--client-key",
            type=file,
            help="The client certificate's key, when it is a separate file.",
        ),
        click.option(
            "--verify-tls/--no-verify-tls",
            "verify",
            default=None,
            help="Verify the server's TLS certificate (default); --no-verify-tls is for "
            "testing only and also ignores --ca-bundle.",
        ),
    ]
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def flags_of(**kwargs: Any) -> dict[str, Any]:
    """The options the user actually gave (None = not given), for load_settings."""
    return {k: v for k, v in kwargs.items() if v is not None and k != "config_file"}
