"""``syncd demo DIR``: the whole loop on one machine, with nothing to set up first.

1. Everything lives in one fresh directory (``--data-dir``, else a new temp directory):
   the server's data, the API key file, the daemon's state and a config file. Nothing is
   written anywhere else except DIR, and nothing in DIR is ever deleted by the demo.
2. The server is a ``syncd serve`` subprocess in its own session, so Ctrl-C reaches the
   daemon first; the daemon stops cleanly, then the server is stopped. Exit 0.
3. The account, key and workspace are made through the public surface (``syncd admin``
   and the HTTP API), exactly as a user would make them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import click

from syncd.errors import ServerUnreachable, UsageError
from syncd.soak.harness import ServerProcess, create_account

EXAMPLES = {
    "README.txt": "This folder is mirrored to a syncd workspace. Edit me and watch the server.\n",
    "notes/todo.md": "# To do\n\n- change a file here\n- change one on the server\n",
    "notes/ideas.md": "# Ideas\n\nsyncd keeps both sides in agreement.\n",
    "data/numbers.csv": "n,square\n" + "".join(f"{n},{n * n}\n" for n in range(1, 11)),
}


def start_server(data_dir: Path, port: int, log_file: Path, timeout: float = 60.0) -> ServerProcess:
    """Run ``syncd serve`` until the demo ends: its own session (Ctrl-C goes to the daemon;
    the server is stopped after it), dying with the demo however the demo dies."""
    server = ServerProcess(data_dir, port=port, log_file=log_file, own_session=True)
    try:
        return server.start(timeout)
    except RuntimeError as exc:
        raise ServerUnreachable(f"the demo server did not start; see {log_file}") from exc


def create_key(data_dir: Path, key_file: Path) -> None:
    """A fresh account; its key goes to a file readable by the user only, never to the screen."""
    try:
        key = create_account(data_dir, "demo")
    except (RuntimeError, IndexError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"could not create the demo account: {exc}") from exc
    key_file.touch(mode=0o600)
    key_file.write_text(key + "\n")


def seed_workspace(url: str, key_file: Path, scratch: Path) -> str:
    """Create the ``demo`` workspace and upload the example files over the API."""
    from syncd.transport.client import Client, TransportSettings

    settings = TransportSettings(base_url=url, api_key=key_file.read_text().strip())
    with Client(settings) as client:
        workspace = client.workspaces.create("demo")
        for path, text in EXAMPLES.items():
            source = scratch / path.replace("/", "_")
            source.write_text(text)
            client.files.upload(workspace.id, path, source)
            source.unlink()
    return workspace.id


def write_config(base: Path, url: str, workspace: str, folder: Path, key_file: Path) -> Path:
    config = base / "demo.toml"
    config.write_text(
        "# written by `syncd demo`: the daemon it runs, as a config file\n"
        f'server = "{url}"\nworkspace = "{workspace}"\n'
        f"dir = {_toml_str(folder)}\nstate_dir = {_toml_str(base / 'state')}\n"
        f"api_key_file = {_toml_str(key_file)}\n"
    )
    return config


def _toml_str(path: Path) -> str:
    return '"' + str(path).replace("\\", "\\\\").replace('"', '\\"') + '"'


def instructions(url: str, workspace: str, folder: Path, key_file: Path, config: Path) -> str:
    put = f"{url}/api/v1/workspaces/{workspace}/files/from-server.txt"
    return "\n".join(
        [
            f"syncd demo: server {url}, workspace {workspace}",
            f"  mirrored folder: {folder}",
            f"  API key file:    {key_file}",
            "try a change on the server side:",
            f'  curl -X PUT -H "Authorization: Bearer $(cat {key_file})" '
            f"--data-binary 'hello from the server' {put}",
            "try a change on the local side:",
            f"  echo hi > {folder / 'new.txt'}",
            "see what the daemon does:",
            f"  syncd status --config {config}",
            "Ctrl-C stops the daemon and the server.",
        ]
    )


def _announce(daemon: object, text: str) -> None:
    """Print the help once the first sync mirrored the examples, so every path it names exists."""
    daemon.started.wait()
    click.echo(text)
    sys.stdout.flush()


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="Server port (0: free).")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the demo keeps the server data, key and state (default: a new temp dir).",
)
def demo(folder: Path, port: int, data_dir: Path | None) -> None:
    """Start a reference server with example files and mirror it to FOLDER until Ctrl-C."""
    from syncd.config import load_settings
    from syncd.daemon.loop import Daemon

    folder = folder.expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    base = (data_dir or Path(tempfile.mkdtemp(prefix="syncd-demo-"))).expanduser().resolve()
    if base == folder or folder in base.parents:
        raise UsageError("the demo's data directory must not be inside the mirrored folder")
    base.mkdir(parents=True, exist_ok=True)
    key_file = base / "api-key"
    if not key_file.exists():
        create_key(base / "server", key_file)
    server = start_server(base / "server", port, base / "server.log")
    url = server.url
    try:
        workspace = seed_workspace(url, key_file, base)
        config = write_config(base, url, workspace, folder, key_file)
        settings = load_settings({}, config_file=config)
        daemon = Daemon(settings, config_file=str(config))
        text = instructions(url, workspace, folder, key_file, config)
        threading.Thread(target=_announce, args=(daemon, text), daemon=True).start()
        daemon.run()
    finally:
        server.stop()
    click.echo(f"syncd demo: stopped; the demo's data is kept in {base}")
