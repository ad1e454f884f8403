"""Shell completion, through click's protocol, as the shells run it: ``syncd`` in a
subprocess with ``COMP_WORDS``/``COMP_CWORD`` and ``_SYNCD_COMPLETE`` in its environment.

Workspace names come from a real server; the paths of ``trash restore``, ``conflicts
resolve`` and ``exclude remove`` from the state a real sync left.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from syncd.soak.harness import SYNCD, ServerProcess, free_port
from tests.support.clients import SyncClient, create_workspace, write


def complete(line: str, *, env: dict[str, str] | None = None, shell: str = "bash") -> list[str]:
    """The candidates for the last word of ``line`` (a trailing space: a new word)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    given = {
        **os.environ,
        **(env or {}),
        "_SYNCD_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1),
        "HOME": os.environ.get("HOME", "/root"),
    }
    if shell == "fish":
        given["COMP_WORDS"], given["COMP_CWORD"] = line, words[-1]
    proc = subprocess.run([*SYNCD], capture_output=True, text=True, env=given, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout.splitlines()


def values(line: str, **kwargs: object) -> set[str]:
    """The plain candidates of bash's protocol (``plain,VALUE`` lines)."""
    return {c.split(",", 1)[1] for c in complete(line, **kwargs) if c.startswith("plain,")}  # type: ignore[arg-type]


@pytest.fixture
def no_config(tmp_path: Path) -> dict[str, str]:
    """No user config file, no key in the environment: only what the line says counts."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "SYNCD_API_KEY": "", "SYNCD_CONFIG": ""}


def test_commands_options_and_choices(no_config: dict[str, str]) -> None:
    assert {"sync", "run", "status", "trash", "conflicts", "completion"} <= values(
        "syncd ", env=no_config
    )
    assert values("syncd sync --band", env=no_config) == {"--bandwidth-limit"}
    assert {"--no-verify-tls", "--ca-bundle"} <= values("syncd run --", env=no_config)
    assert values("syncd sync --mode ", env=no_config) == {
        "two-way",
        "upload-only",
        "download-only",
    }
    assert values("syncd completion ", env=no_config) == {"bash", "zsh", "fish"}


def test_paths_are_left_to_the_shell(no_config: dict[str, str]) -> None:
    assert complete("syncd sync --dir ", env=no_config) == ["dir,"]
    assert complete("syncd sync --ca-bundle ", env=no_config) == ["file,"]


def test_workspace_names_come_from_the_server(server: ServerProcess, no_config, tmp_path: Path):
    key = server.create_account("comp")
    notes = create_workspace(server, key, name="notes")
    create_workspace(server, key, name="photos")
    env = {**no_config, "SYNCD_API_KEY": key}
    line = f"syncd sync --server {server.url} --workspace "
    assert {"notes", "photos", notes} <= values(line, env=env)  # names, and ids too
    assert values(line + "no", env=env) == {"notes"}
    config = tmp_path / "c.toml"
    config.write_text(f'server = "{server.url}"\n')
    assert values(f"syncd status --config {config} --workspace ph", env=env) == {"photos"}


def test_an_unreachable_server_gives_nothing_at_once(no_config: dict[str, str]) -> None:
    env = {**no_config, "SYNCD_API_KEY": "key"}
    started = time.monotonic()
    line = f"syncd sync --server http://127.0.0.1:{free_port()} --workspace "
    assert values(line, env=env) == set()
    assert time.monotonic() - started < 20  # a refused connection, no retries


def test_state_paths_for_trash_conflicts_and_exclude(server: ServerProcess, tmp_path, no_config):
    key = server.create_account("state")
    workspace = create_workspace(server, key)
    a, b = (tmp_path / "a", tmp_path / "b")
    a.mkdir(), b.mkdir()
    mine = SyncClient(server, key, workspace, a, tmp_path / "state-a")
    theirs = SyncClient(server, key, workspace, b, tmp_path / "state-b")
    write(a / "notes.txt", "one")
    write(a / "docs" / "plan.txt", "plan")
    mine.sync()
    theirs.sync()
    write(a / "notes.txt", "two")  # replaced on b: its old version goes to b's trash
    write(a / "docs" / "plan.txt", "their plan")
    mine.sync()
    write(b / "docs" / "plan.txt", "my plan")  # edited on both sides: a conflict on b
    theirs.sync()
    excluded = theirs.run("add", "photos", command="exclude")
    assert excluded.returncode == 0, excluded.stderr

    env = {**no_config, "SYNCD_API_KEY": key}
    common = f"--server {server.url} --workspace {workspace} --dir {b} --state-dir {tmp_path / 'state-b'}"
    assert "notes.txt" in values(f"syncd trash restore {common} ", env=env)
    assert values(f"syncd trash {common} restore no", env=env) == {"notes.txt"}
    conflicts = values(f"syncd conflicts resolve {common} docs/", env=env)
    assert "docs/plan.txt" in conflicts and any("conflicted copy" in c for c in conflicts)
    assert values(f"syncd exclude remove {common} ", env=env) == {"photos"}
    # no state for this folder yet: nothing, and no traceback
    other = (
        f"--server {server.url} --workspace {workspace} --dir {a} --state-dir {tmp_path / 'none'}"
    )
    assert values(f"syncd trash restore {other} ", env=env) == set()


def test_zsh_and_fish_speak_their_own_protocol(no_config: dict[str, str]) -> None:
    zsh = complete("syncd sync --band", env=no_config, shell="zsh")
    assert zsh[:2] == ["plain", "--bandwidth-limit"], zsh
    fish = complete("syncd sync --band", env=no_config, shell="fish")
    # click 8.5 writes "plain,VALUE\tHELP" lines for fish; 8.4 the zsh-like three lines
    first = fish[0].split(",") if fish and "," in fish[0].split("\t")[0] else fish[:2]
    assert [part.split("\t")[0] for part in first[:2]] == ["plain", "--bandwidth-limit"], fish


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_the_completion_command_prints_clicks_script(shell: str) -> None:
    proc = subprocess.run([*SYNCD, "completion", shell], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"_SYNCD_COMPLETE={shell}_complete" in proc.stdout
    source = subprocess.run(
        [*SYNCD],
        capture_output=True,
        text=True,
        env={**os.environ, "_SYNCD_COMPLETE": f"{shell}_source"},
    )
    assert source.stdout.strip() == proc.stdout.strip()


def test_an_unknown_shell_is_bad_usage() -> None:
    proc = subprocess.run([*SYNCD, "completion", "tcsh"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr


def test_bash_runs_the_script(tmp_path: Path, no_config: dict[str, str]) -> None:
    """The printed script, sourced by a real bash, fills COMPREPLY by calling ``syncd``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "syncd"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m syncd "$@"\n')
    wrapper.chmod(0o755)
    script = (
        'eval "$(syncd completion bash)"\n'
        "COMP_WORDS=(syncd sync --max-r); COMP_CWORD=2\n"
        "_syncd_completion syncd\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, **no_config, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["--max-retries"], proc.stdout
