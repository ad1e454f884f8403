"""The ``syncd`` entry point: the one place where errors become exit codes (CLI.md).

1. Subcommands live in their own modules and are imported only when invoked, so
   ``syncd serve`` does not pay for the client's imports and the reverse.
2. A ``SyncdError`` becomes one line on stderr and its class's exit code; a bad flag is
   one line and exit 2; any other exception becomes one line too, exit 1 (a traceback
   only with ``--debug``).
3. No API key in any of it: every line written here, and every log record, goes through
   ``syncd.transport.secret.redact`` with each key the process has seen.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from syncd import __version__
from syncd.errors import SyncdError
from syncd.transport.secret import RedactFilter, redact

# name -> "module:attribute"; each is imported only when its command runs.
COMMANDS: dict[str, str] = {
    "serve": "syncd.cli.serve:serve",
    "admin": "syncd.cli.admin:admin",
    "sync": "syncd.cli.sync:sync",
    "run": "syncd.cli.run:run",
    "status": "syncd.cli.status:status",
    "exclude": "syncd.cli.exclude:exclude",
    "demo": "syncd.cli.demo:demo",
    "pause": "syncd.cli.pause:pause",
    "resume": "syncd.cli.pause:resume",
    "trash": "syncd.cli.trash:trash",
    "conflicts": "syncd.cli.conflicts:conflicts",
    "explain": "syncd.cli.explain:explain",
    "completion": "syncd.cli.completion:completion",
}


def _load(name: str) -> click.Command | None:
    module_name, _, attr = COMMANDS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return getattr(module, attr)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _load(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        return _load(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="syncd")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """syncd: two-way sync of a local folder with a workspace server."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    # one line per request is the server's access log, not ours
    logging.getLogger("httpx").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactFilter) for f in handler.filters):
            handler.addFilter(RedactFilter())


def _fail(text: str, code: int) -> None:
    """One line on stderr, scrubbed of every key, and the exit code."""
    line = " ".join(redact(text).split("\n"))
    click.echo(f"syncd: {line}", err=True)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI and map every failure to one stderr line and a CLI.md exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="syncd", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("syncd: aborted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "syncd"
        _fail(f"{exc.format_message()} (see '{command} --help')", 2)
    except click.ClickException as exc:
        _fail(exc.format_message(), 2)
    except SyncdError as exc:
        if debug:
            logging.getLogger("syncd").exception("failed")
        hint = f" ({exc.hint})" if exc.hint else ""
        _fail(f"{exc}{hint}", exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if debug:
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc}", 1)
    sys.exit(code if isinstance(code, int) else 0)
