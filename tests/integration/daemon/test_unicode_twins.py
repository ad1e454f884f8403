"""A running daemon syncs both spellings of a name that land in one folder (NFC and NFD)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from syncd.config import Settings
from syncd.session import open_session
from syncd.soak.harness import ServerProcess
from tests.integration.daemon.daemons import eventually, start_all, write
from tests.support.clients import remote_tree


def nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def nfd(name: str) -> str:
    return unicodedata.normalize("NFD", name)


def test_a_daemon_renames_a_second_spelling_and_syncs_it(make_daemon, server, account):
    """The daemon's scoped pass sees both spellings, renames one and, in a further round of
    the same pass, uploads it and what its folder holds."""
    a, b = start_all(make_daemon("a"), make_daemon("b"))
    write(a.folder / nfc("café.txt"), "composed")
    write(a.folder / nfc("Ünïcode") / "x.txt", "x")
    eventually(lambda: nfc("Ünïcode/x.txt") in b.tree(), what="the first spellings on b")
    write(a.folder / nfd("café.txt"), "decomposed")
    write(a.folder / nfd("Ünïcode") / "y.txt", "y")
    expected = {
        nfc("café.txt"): "composed",
        nfc("café (unicode conflict).txt"): "decomposed",
        nfc("Ünïcode/x.txt"): "x",
        nfc("Ünïcode (unicode conflict)/y.txt"): "y",
    }

    def on_b() -> bool:
        found = {}
        for path in b.tree():
            try:
                found[path] = (b.folder / path).read_text()
            except FileNotFoundError:
                return False
        return found == expected

    eventually(on_b, timeout=30, what="both spellings of both names on b")
    eventually(lambda: a.tree() == b.tree() == remote_tree(server, *account), what="converged")
    info = json.loads(a.status().stdout)
    assert info["last_result"]["failed"] == 0


def test_a_scoped_sync_syncs_what_it_renamed_within_the_same_sync(
    tmp_path: Path, server: ServerProcess, account: tuple[str, str]
) -> None:
    """The renamed spelling lies outside the dirty paths: the scope grows to take it in."""
    key, workspace = account
    folder = tmp_path / "folder"
    write(folder / "first.txt", "first")
    settings = Settings(
        server=server.url, workspace=workspace, dir=folder, api_key=key, state_dir=tmp_path / "s"
    )
    with open_session(settings) as session:
        session.engine.sync()
        write(folder / nfc("Ünïcode") / "x.txt", "x")
        write(folder / nfd("Ünïcode") / "y.txt", "y")
        report = session.engine.sync(scope={nfc("Ünïcode")})
    assert not report.failed
    assert set(remote_tree(server, *account)) == {
        "first.txt",
        nfc("Ünïcode/x.txt"),
        nfc("Ünïcode (unicode conflict)/y.txt"),
    }
