"""End to end: ``syncd trash list/restore`` and ``syncd conflicts [resolve]`` with two clients."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from syncd.cli.main import cli as main_cli
from syncd.soak.harness import SYNCD, client_argv
from tests.support.clients import SyncClient, remote_tree, sync_settled, write


def cli(client: SyncClient, command: str, *args: str, expect: int = 0) -> str:
    """The command's stdout; in process when it must succeed (quick), else as a subprocess
    so that the one stderr line and the exit code are main's own."""
    if expect == 0:
        argv = client_argv(
            command, client.server.url, client.workspace, client.folder, client.state_dir, *args
        )[len(SYNCD) :]
        result = CliRunner().invoke(main_cli, argv, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout
    proc = client.run(*args, command=command)
    assert proc.returncode == expect, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def trash_rows(client: SyncClient) -> list[dict[str, Any]]:
    return json.loads(cli(client, "trash", "list", "--json"))


def conflicts_of(client: SyncClient) -> list[dict[str, Any]]:
    return json.loads(cli(client, "conflicts", "--json"))


def make_conflict(a: SyncClient, b: SyncClient, name: str) -> dict[str, Any]:
    """a and b both edit ``name``; b syncs last and keeps its version as the copy."""
    write(a.folder / name, "base")
    a.sync()
    b.sync()
    write(a.folder / name, "theirs from a")
    write(b.folder / name, "mine from b, longer")
    a.sync()
    b.sync()
    (hit,) = [c for c in conflicts_of(b) if c["path"] == name]
    assert hit["won"] == "theirs"
    assert (b.folder / hit["conflict_path"]).read_text() == "mine from b, longer"
    return hit


def server_files(client: SyncClient) -> dict[str, str]:
    return remote_tree(client.server, client.api_key, client.workspace)


def test_trash_lists_why_and_restore_never_overwrites(make_client):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "gone.txt", "old gone")
    write(a.folder / "edited.txt", "old edited")
    a.sync()
    b.sync()
    (a.folder / "gone.txt").unlink()
    write(a.folder / "edited.txt", "new edited from a")
    a.sync()
    b.sync()
    rows = {r["path"]: r for r in trash_rows(b)}
    assert rows["gone.txt"]["reason"] == "remote_delete"
    assert rows["edited.txt"]["reason"] == "remote_change"
    assert rows["gone.txt"]["size"] == len("old gone")
    assert rows["gone.txt"]["pruned_after"] > rows["gone.txt"]["trashed_at"]
    assert "deleted by a remote delete" in cli(b, "trash", "list")
    assert "nothing trashed" in cli(b, "trash", "list", "--since", "2999-01-01T00:00+00:00")
    assert "not a date" in cli(b, "trash", "list", "--since", "yesterday", expect=2)

    # the deleted file comes back where it was, and reaches the server
    cli(b, "trash", "restore", "gone.txt")
    assert (b.folder / "gone.txt").read_text() == "old gone"
    # the replaced one: the current file keeps its place, the old one goes beside it
    out = cli(b, "trash", "restore", "edited.txt")
    assert (b.folder / "edited.txt").read_text() == "new edited from a"
    (beside,) = [p for p in b.folder.iterdir() if p.name.startswith("edited (restored copy ")]
    assert beside.read_text() == "old edited"
    assert beside.name in out
    b.sync()
    remote = server_files(b)
    assert "gone.txt" in remote and f"{beside.name}" in remote

    # bad input: one line, exit 2
    assert "nothing in the trash" in cli(b, "trash", "restore", "never.txt", expect=2)
    assert "outside the folder" in cli(
        b, "trash", "restore", "gone.txt", "--to", "../elsewhere.txt", expect=2
    )
    assert "no trashed version" in cli(
        b, "trash", "restore", "gone.txt", "--at", "1999-01-01", expect=2
    )
    # --to inside the folder: a new name there
    cli(b, "trash", "restore", "gone.txt", "--to", "sub/back.txt")
    assert (b.folder / "sub" / "back.txt").read_text() == "old gone"


def test_resolve_theirs_both_and_mine_never_over_a_newer_server_version(make_client):
    a, b = make_client("a"), make_client("b")
    theirs = make_conflict(a, b, "t.txt")
    both = make_conflict(a, b, "b.txt")
    cli(b, "conflicts", "resolve", "t.txt", "--keep", "theirs")
    assert not (b.folder / theirs["conflict_path"]).exists()
    cli(b, "conflicts", "resolve", both["conflict_path"], "--keep", "both")
    assert [c["path"] for c in conflicts_of(b)] == []
    assert any(r["reason"] == "conflict_loser" for r in trash_rows(b))
    b.sync()
    a.sync()
    remote = server_files(b)
    assert theirs["conflict_path"] not in remote
    assert both["conflict_path"] in remote
    assert (a.folder / "t.txt").read_text() == "theirs from a"
    assert (a.folder / both["conflict_path"]).read_text() == "mine from b, longer"
    assert "no conflict" in cli(b, "conflicts", "resolve", "t.txt", "--keep", "mine", expect=2)

    mine = make_conflict(a, b, "m.txt")
    cli(b, "conflicts", "resolve", "m.txt", "--keep", "mine")
    assert (b.folder / "m.txt").read_text() == "mine from b, longer"
    assert not (b.folder / mine["conflict_path"]).exists()
    assert [r["path"] for r in trash_rows(b) if r["reason"] == "conflict_loser"]
    sync_settled(b)
    a.sync()
    assert (a.folder / "m.txt").read_text() == "mine from b, longer"
    assert not (a.folder / mine["conflict_path"]).exists()

    # again, but the server's version changes after the resolve: a new conflict
    again = make_conflict(a, b, "n.txt")
    cli(b, "conflicts", "resolve", "n.txt", "--keep", "mine")
    write(a.folder / "n.txt", "newer from a, meanwhile")
    a.sync()
    b.sync()
    assert (b.folder / "n.txt").read_text() == "newer from a, meanwhile"
    copies = [c for c in conflicts_of(b) if c["path"] == "n.txt"]
    assert copies and (b.folder / copies[0]["conflict_path"]).read_text() == "mine from b, longer"
    assert again["conflict_path"] not in {c["conflict_path"] for c in conflicts_of(b)}


def test_a_conflict_in_a_folder_the_disk_spells_in_nfd_stays_listed_and_resolves(make_client):
    """The state spells paths in NFC; the copy sits in a folder spelled NFD on disk."""
    nfd, nfc = "cafe\u0301", "caf\u00e9"
    a, b = make_client("a"), make_client("b")
    write(b.folder / nfd / "f.txt", "base")
    b.sync()
    a.sync()
    write(a.folder / nfc / "f.txt", "theirs from a")
    write(b.folder / nfd / "f.txt", "mine from b, longer")
    a.sync()
    b.sync()
    b.sync()  # a later sync must not take the copy for gone
    (hit,) = conflicts_of(b)
    assert hit["path"] == f"{nfc}/f.txt" and hit["conflict_path"].startswith(f"{nfc}/f (")
    copy_name = hit["conflict_path"].rsplit("/", 1)[1]
    assert (b.folder / nfd / copy_name).read_text() == "mine from b, longer"
    cli(b, "conflicts", "resolve", hit["path"], "--keep", "mine")
    assert (b.folder / nfd / "f.txt").read_text() == "mine from b, longer"
    assert not (b.folder / nfd / copy_name).exists()
    assert not (b.folder / nfc).exists()  # nothing was made beside the folder
    assert conflicts_of(b) == []
    sync_settled(b)
    a.sync()
    assert (a.folder / nfc / "f.txt").read_text() == "mine from b, longer"
