"""Bad usage, as a user makes it, is one line on stderr and exit 2, and leaves no state.

Found by outside testing against the real server: an API key with a line break was sent
(and printed, on every retry); a non-ASCII key said "TLS setup failed"; a config file that
is not UTF-8 exited 1 with ``UnicodeDecodeError``; ``--server`` with the API path exited 1
with ``GET workspaces: 404``; an unwritable ``--dir`` exited 1 about the folder ``'.'``; a
missing folder created a state database before it was refused. Each sibling mistake is
here too: bad TOML, wrong types, a missing, unreadable or directory key file, a URL
without a scheme.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import syncd as syncd_package
from syncd.soak.harness import ServerProcess
from tests.support.clients import create_workspace

NOBODY = 65534


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str, str]]:
    """(server, key, workspace id): one real server for the whole module."""
    with ServerProcess(tmp_path_factory.mktemp("server")) as server:
        key = server.create_account("usage")
        yield server, key, create_workspace(server, key)


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A temporary folder another user may enter (pytest's own is private to us)."""
    path = Path(tempfile.mkdtemp(prefix="syncd-usage-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@functools.cache
def _public_package() -> Path:
    """A copy of the code under test that another user may read.

    Our checkout may sit below a folder only we can enter (``/root``), so the other user
    would find no ``syncd`` to import; the interpreter and its libraries are public.
    """
    root = Path(tempfile.mkdtemp(prefix="syncd-code-"))
    root.chmod(0o755)
    atexit.register(shutil.rmtree, root, True)
    shutil.copytree(Path(syncd_package.__file__).parent, root / "syncd")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return root


def as_other_user() -> list[str]:
    """The argv prefix that runs a command as a user without our rights."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot drop privileges")
    drop = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    prefix = [*drop, "env", f"PYTHONPATH={_public_package()}"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import syncd"], capture_output=True, cwd="/"
    )
    if probe.returncode != 0:
        pytest.skip(f"another user cannot run {sys.executable}: {probe.stderr!r}")
    return prefix


def syncd(
    live: tuple[ServerProcess, str, str],
    folder: Path,
    state: Path,
    *args: str,
    env: dict[str, str] | None = None,
    key: str | None = None,
    prefix: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``syncd sync`` as a user types it: the live server unless ``args`` says otherwise."""
    server, _key, workspace = live
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
    environment |= {"HOME": str(state.parent), "SYNCD_MAX_RETRIES": "0"}
    if key is not None:
        environment["SYNCD_API_KEY"] = key
    environment |= env or {}
    argv = [*(prefix or []), sys.executable, "-m", "syncd", "sync"]
    if "--server" not in args:
        argv += ["--server", server.url]
    argv += ["--workspace", workspace, "--dir", str(folder), "--state-dir", str(state), *args]
    return subprocess.run(
        argv, capture_output=True, text=True, env=environment, timeout=60, cwd="/"
    )


def one_line_exit_2(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("syncd: "), proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def fragments(key: str, size: int = 8) -> set[str]:
    return {key[i : i + size] for i in range(len(key) - size + 1)}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "folder"
    path.mkdir()
    return path


# -- the API key --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "extra", "problem"),
    [
        ("env", "\nsecond line", "whitespace"),
        ("file", "\nsecond line\n", "whitespace"),
        ("file", " \n", "whitespace"),
        ("env", "\x07", "control character"),
        ("env", "é", "non-ASCII"),
        ("file", "é\n", "non-ASCII"),
    ],
    ids=["env-newline", "file-two-lines", "file-trailing-space", "env-bell", "env-e", "file-e"],
)
def test_a_key_no_header_can_carry_is_refused_at_load(
    live, tmp_path, folder, where, extra, problem
):
    _server, key, _workspace = live
    bad = key + extra
    if where == "env":
        proc = syncd(live, folder, tmp_path / "state", key=bad)
    else:
        (tmp_path / "key").write_bytes(bad.encode())
        proc = syncd(live, folder, tmp_path / "state", "--api-key-file", str(tmp_path / "key"))
    line = one_line_exit_2(proc, "API key cannot be used", problem)
    assert "TLS" not in line and "retry" not in proc.stderr
    assert not fragments(key) & fragments(proc.stderr + proc.stdout, 8)
    assert not (tmp_path / "state").exists()


def test_a_key_file_written_with_echo_is_read_without_its_line_break(live, tmp_path, folder):
    _server, key, _workspace = live
    (tmp_path / "key").write_text(key + "\n")
    (folder / "a.txt").write_text("hello")
    proc = syncd(live, folder, tmp_path / "state", "--api-key-file", str(tmp_path / "key"))
    assert proc.returncode == 0, proc.stderr
    assert "uploaded 1" in proc.stdout


@pytest.mark.parametrize("kind", ["missing", "directory", "unreadable", "empty"])
def test_a_key_file_that_cannot_be_used_is_one_line(live, public_tmp, kind):
    key_file = public_tmp / "key"
    prefix: list[str] = []
    if kind == "directory":
        key_file.mkdir()
    elif kind == "unreadable":
        key_file.write_text("k" * 40 + "\n")
        key_file.chmod(0o000)
        prefix = as_other_user()
    elif kind == "empty":
        key_file.write_text("\n")
    folder = public_tmp / "folder"
    folder.mkdir()
    folder.chmod(0o777)
    proc = syncd(live, folder, public_tmp / "state", "--api-key-file", str(key_file), prefix=prefix)
    words = {
        "missing": ("No such file",),
        "directory": ("is a directory",),
        "unreadable": ("not readable", "Permission denied"),
        "empty": ("is empty",),
    }
    line = one_line_exit_2(proc, str(key_file))
    assert any(word in line for word in words[kind]), line
    assert not (public_tmp / "state").exists()


# -- the config file and the URL ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b"server = \xff\xfe\n", ("not valid UTF-8",)),
        (b'\xef\xbb\xbfworkspace = "caf\xe9"\n', ("not valid UTF-8",)),
        (b"server = \n", ("invalid TOML",)),
        (b"[server\n", ("invalid TOML",)),
        (b"transfers = true\n", ("'transfers'", "whole number")),
        (b"server = 8765\n", ("'server'", "string")),
        (b"dir = 5\n", ("'dir'", "string")),
        (b'verify = "sometimes"\n', ("'verify'", "true or false")),
        (b"timeout = 2026-01-01\n", ("'timeout'", "number")),
        (b"chunk_size = [1, 2]\n", ("'chunk_size'", "single value")),
    ],
    ids=[
        "not-utf8",
        "latin1-value",
        "no-value",
        "bad-table",
        "bool-for-count",
        "int-for-url",
        "int-for-path",
        "text-for-bool",
        "date-for-duration",
        "list",
    ],
)
def test_a_bad_config_file_is_one_line(live, tmp_path, folder, text, words):
    _server, key, _workspace = live
    config = tmp_path / "config.toml"
    config.write_bytes(text)
    # the flags give every value, so even a key a flag overrides must be right in the file
    proc = syncd(live, folder, tmp_path / "state", "--config", str(config), key=key)
    one_line_exit_2(proc, str(config), *words)
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("{url}/api/v1", ("--server", "without the API path: {url}")),
        ("{url}/api/v1/", ("--server", "without the API path: {url}")),
        ("{url}/api", ("not the base URL of a syncd server", "e.g. {url}, without '/api'")),
        ("{host}", ("--server", "http://{host}")),
        ("ftp://{host}", ("--server", "http:// or https://")),
    ],
    ids=["api-prefix", "api-prefix-slash", "api", "no-scheme", "other-scheme"],
)
def test_a_wrong_server_url_says_what_to_give(live, tmp_path, folder, url, words):
    server, key, _workspace = live
    host = server.url.removeprefix("http://")
    given = url.format(url=server.url, host=host)
    proc = syncd(live, folder, tmp_path / "state", "--server", given, key=key)
    one_line_exit_2(proc, *(w.format(url=server.url, host=host) for w in words))
    assert not (tmp_path / "state").exists()


# -- the folder ----------------------------------------------------------------------------


def test_an_unwritable_folder_is_named(live, public_tmp):
    _server, key, _workspace = live
    folder = public_tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    state = public_tmp / "state"
    state.mkdir()
    state.chmod(0o777)
    proc = syncd(live, folder, state, key=key, prefix=as_other_user())
    one_line_exit_2(proc, str(folder), "writable")
    assert list(state.iterdir()) == []


def test_a_missing_folder_leaves_no_state_behind(live, tmp_path):
    _server, key, _workspace = live
    folder = tmp_path / "typo"
    proc = syncd(live, folder, tmp_path / "state", key=key)
    one_line_exit_2(proc, str(folder), "does not exist")
    assert not folder.exists()
    assert not (tmp_path / "state").exists()


def test_a_bad_flag_is_one_line(live, tmp_path, folder):
    _server, key, _workspace = live
    proc = syncd(live, folder, tmp_path / "state", "--colour", "red", key=key)
    one_line_exit_2(proc, "--colour", "--help")


@pytest.mark.parametrize("kind", ["read-only", "read-only-parent", "below-a-file"])
def test_a_state_directory_that_cannot_be_written_is_named(live, public_tmp, kind):
    _server, key, _workspace = live
    folder = public_tmp / "folder"
    folder.mkdir()
    folder.chmod(0o777)
    locked = public_tmp / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if kind == "below-a-file":
        (public_tmp / "file").write_text("not a folder")
        state, words = public_tmp / "file" / "state", ("is not a directory",)
    elif kind == "read-only":
        state, words = locked, ("cannot write in the state directory",)
    else:
        state, words = locked / "state", ("cannot create the state directory", "not writable")
    proc = syncd(live, folder, state, key=key, prefix=as_other_user())
    one_line_exit_2(proc, str(state), *words)
    assert list(locked.iterdir()) == [] and list(folder.iterdir()) == []


def test_a_home_this_user_may_not_enter_is_named(live, public_tmp):
    _server, key, _workspace = live
    home = public_tmp / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config").chmod(0o000)  # a folder on the way this user may not enter
    folder = public_tmp / "folder"
    folder.mkdir()
    folder.chmod(0o777)
    state = public_tmp / "state"
    state.mkdir()
    state.chmod(0o777)
    proc = syncd(live, folder, state, key=key, env={"HOME": str(home)}, prefix=as_other_user())
    one_line_exit_2(proc, "cannot read config file", str(home / ".config"))
