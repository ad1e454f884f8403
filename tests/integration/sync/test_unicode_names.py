"""End to end: names in two Unicode spellings (NFC and NFD) converge, and no spelling is lost.

One client may hold a name in NFD (as macOS writes it, or an archive unpacks it) and another
in NFC; one folder may even hold both. The server keys every path by NFC: the spelling a
client has is the one it keeps, and a second spelling in one folder is renamed beside the
name (``NAME (unicode conflict).EXT``) and synced under that name.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from tests.support.clients import SyncClient, remote_tree, sync_settled, write


def nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def nfd(name: str) -> str:
    return unicodedata.normalize("NFD", name)


CAFE = nfc("café.txt")
CAFE_TWIN = nfc("café (unicode conflict).txt")
FOLDER = nfc("Ünïcode")
FOLDER_TWIN = nfc("Ünïcode (unicode conflict)")


def names(folder: Path) -> list[str]:
    """The names in one folder exactly as the disk spells them (ours left out)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".syncd-"))


def keyed(client: SyncClient) -> dict[str, str]:
    """The client's files keyed by NFC, as the server keys them; a path twice fails."""
    tree: dict[str, str] = {}
    for path, digest in client.tree().items():
        key = nfc(path)
        assert key not in tree, f"{client.folder.name} holds {key!r} in two spellings"
        tree[key] = digest
    return tree


def contents(client: SyncClient) -> dict[str, str]:
    """NFC path -> text of every file of the client."""
    return {
        nfc(p.relative_to(client.folder).as_posix()): p.read_text()
        for p in client.folder.rglob("*")
        if p.is_file() and not any(part.startswith(".syncd-") for part in p.parts)
    }


def assert_converged(server, account, *clients: SyncClient) -> None:
    """Every client syncs once more with nothing to do (exit 0), and all equal the server."""
    for client in clients:
        proc = sync_settled(client)
        assert "op=" not in proc.stderr, f"{client.folder.name} not quiet:\n{proc.stderr}"
    remote = remote_tree(server, *account)
    for client in clients:
        assert keyed(client) == remote


def test_nfd_on_one_client_and_nfc_on_another_converge(make_client, sync_server, account):
    a, b = make_client("a"), make_client("b")
    write(a.folder / nfd("café.txt"), "from a")
    write(a.folder / nfd("Ünïcode") / "a.txt", "a")
    write(b.folder / CAFE, "from b")
    write(b.folder / FOLDER / "b.txt", "b")
    a.sync()
    b.sync()
    a.sync()
    assert_converged(sync_server, account, a, b)
    # each client keeps its own spelling, and no second spelling appeared beside it
    assert nfd("café.txt") in names(a.folder) and CAFE not in names(a.folder)
    assert nfd("Ünïcode") in names(a.folder) and FOLDER not in names(a.folder)
    assert names(a.folder / nfd("Ünïcode")) == ["a.txt", "b.txt"]
    assert CAFE in names(b.folder) and nfd("café.txt") not in names(b.folder)
    texts = contents(b)
    assert sorted(t for p, t in texts.items() if p.startswith("caf")) == ["from a", "from b"]


def test_both_spellings_of_a_file_in_one_folder_are_both_synced(make_client, sync_server, account):
    """The NFD file used to fail at every sync and never reach the server."""
    a, b = make_client("a"), make_client("b")
    for folder in (a.folder, a.folder / "d", a.folder / nfd("Ünïcode")):
        write(folder / CAFE, "composed")
        write(folder / nfd("café.txt"), "decomposed")
    proc = a.sync()
    assert f"op=MoveLocal path={CAFE} dest={CAFE_TWIN} reason=UNICODE_TWIN" in proc.stderr
    b.sync()
    assert_converged(sync_server, account, a, b)
    expected = {
        f"{folder}{name}": text
        for folder in ("", "d/", f"{FOLDER}/")
        for name, text in ((CAFE, "composed"), (CAFE_TWIN, "decomposed"))
    }
    assert contents(a) == contents(b) == expected
    assert names(a.folder / "d") == sorted([CAFE_TWIN, CAFE])  # both NFC now
    # the renamed file stays in the folder spelled NFD (no NFC twin of the folder appeared)
    assert names(a.folder) == sorted([CAFE, CAFE_TWIN, "d", nfd("Ünïcode")])
    assert names(a.folder / nfd("Ünïcode")) == sorted([CAFE_TWIN, CAFE])


def test_both_spellings_of_a_folder_in_one_folder_are_both_synced(
    make_client, sync_server, account
):
    a, b = make_client("a"), make_client("b")
    write(a.folder / FOLDER / "same.txt", "nfc same")
    write(a.folder / FOLDER / "x.txt", "x")
    write(a.folder / nfd("Ünïcode") / "same.txt", "nfd same")
    write(a.folder / nfd("Ünïcode") / "deep" / "y.txt", "y")
    a.sync()
    b.sync()
    assert_converged(sync_server, account, a, b)
    assert (
        contents(a)
        == contents(b)
        == {
            f"{FOLDER}/same.txt": "nfc same",
            f"{FOLDER}/x.txt": "x",
            f"{FOLDER_TWIN}/same.txt": "nfd same",
            f"{FOLDER_TWIN}/deep/y.txt": "y",
        }
    )


def test_a_second_spelling_beside_a_synced_name_steps_aside(make_client, sync_server, account):
    """The spelling that was synced keeps the name (and its base): the server's file is not
    overwritten and nothing below a synced folder is deleted; the newcomer gets a new name."""
    a, b = make_client("a"), make_client("b")
    write(a.folder / nfd("café.txt"), "synced")
    write(a.folder / nfd("Ünïcode") / "old.txt", "old")
    a.sync()
    b.sync()
    write(a.folder / CAFE, "newcomer")
    write(a.folder / FOLDER / "new.txt", "new")
    mark = len(sync_server.stderr_lines)
    proc = a.sync()
    assert "op=DeleteRemote" not in proc.stderr
    assert f"op=MoveLocal path={FOLDER} dest={FOLDER_TWIN} reason=UNICODE_TWIN" in proc.stderr
    assert not [line for line in sync_server.stderr_lines[mark:] if " method=DELETE " in line]
    b.sync()
    assert_converged(sync_server, account, a, b)
    assert contents(b) == {
        CAFE: "synced",
        CAFE_TWIN: "newcomer",
        f"{FOLDER}/old.txt": "old",
        f"{FOLDER_TWIN}/new.txt": "new",
    }
    assert nfd("café.txt") in names(a.folder)  # the synced spelling stayed as it was


def test_deleting_one_spelling_never_takes_its_twin(make_client, sync_server, account):
    a, b = make_client("a"), make_client("b")
    write(a.folder / CAFE, "shared")
    write(a.folder / "d" / CAFE, "shared in d")
    a.sync()
    b.sync()
    write(a.folder / nfd("café.txt"), "mine")
    write(a.folder / "d" / nfd("café.txt"), "mine in d")
    (b.folder / CAFE).unlink()
    (b.folder / "d" / CAFE).unlink()
    (b.folder / "d").rmdir()
    b.sync()
    a.sync()
    b.sync()
    assert_converged(sync_server, account, a, b)
    assert contents(a) == contents(b) == {CAFE_TWIN: "mine", f"d/{CAFE_TWIN}": "mine in d"}
    # a user deleting the NFD spelling before any sync changes nothing else
    write(a.folder / "e" / CAFE, "e")
    write(a.folder / "e" / nfd("café.txt"), "gone before the sync")
    (a.folder / "e" / nfd("café.txt")).unlink()
    a.sync()
    b.sync()
    assert_converged(sync_server, account, a, b)
    assert contents(b)[f"e/{CAFE}"] == "e"


def test_moving_one_spelling_leaves_its_twin(make_client, sync_server, account):
    a, b = make_client("a"), make_client("b")
    write(a.folder / CAFE, "shared")
    a.sync()
    b.sync()
    write(a.folder / nfd("café.txt"), "mine")
    os.makedirs(b.folder / "moved")
    os.rename(b.folder / CAFE, b.folder / "moved" / CAFE)
    b.sync()
    a.sync()
    # and a local move of the NFD spelling out of a folder that holds both
    write(a.folder / "f" / CAFE, "f nfc")
    write(a.folder / "f" / nfd("café.txt"), "f nfd")
    os.makedirs(a.folder / "g")
    os.rename(a.folder / "f" / nfd("café.txt"), a.folder / "g" / nfd("café.txt"))
    a.sync()
    b.sync()
    assert_converged(sync_server, account, a, b)
    assert (
        contents(a)
        == contents(b)
        == {
            f"moved/{CAFE}": "shared",
            CAFE_TWIN: "mine",
            f"f/{CAFE}": "f nfc",
            f"g/{CAFE}": "f nfd",
        }
    )
