"""End to end: a same-size write landing right after our upload is never taken for ours.

A base-only server answers a PUT without the entry and lists only size and modified time,
so the next listing's entry may be our upload or another client's write of the same size.
It counts as ours only once the hash of its bytes equals the hash of what we sent.
"""

from __future__ import annotations

from urllib.parse import quote

from tests.support.clients import remote_tree, write


def test_same_size_write_by_another_client_after_our_upload_is_downloaded(
    make_client, sync_server, account, mode
):
    a, b = make_client("a"), make_client("b")
    write(a.folder / "keep.txt", "steady")
    a.sync()
    b.sync()
    write(a.folder / "f.txt", "AAAA")
    a.sync()  # a's upload; a has not listed the server since
    b.sync()
    assert (b.folder / "f.txt").read_text() == "AAAA"
    write(b.folder / "f.txt", "BBBB")  # the same size, before a's next listing
    b.sync()
    first = a.sync()
    assert (a.folder / "f.txt").read_text() == "BBBB", first.stderr
    b.sync()
    a.sync()
    assert a.tree() == b.tree() == remote_tree(sync_server, *account)
    assert (b.folder / "f.txt").read_text() == "BBBB"
    if mode == "base-only":  # the bytes showed it was not our upload: fetched
        assert "op=Download path=f.txt reason=REMOTE_CHANGED" in first.stderr
    for client in (a, b):  # and from then on nothing is left to do or to prove
        plan = client.run("--dry-run")
        assert "dry run: 0 operations planned" in plan.stdout, plan.stdout + plan.stderr


def test_same_size_write_straight_after_our_upload_is_downloaded(make_client, sync_server, account):
    """Another program's PUT, the moment ours is answered: no listing of ours in between."""
    key, workspace = account
    a = make_client("a")
    write(a.folder / "f.txt", "ours")
    a.sync()
    with sync_server.client(key) as http:
        url = f"/api/v1/workspaces/{workspace}/files/{quote('f.txt')}"
        http.put(url, content=b"them").raise_for_status()
    a.sync()
    assert (a.folder / "f.txt").read_text() == "them"
    assert remote_tree(sync_server, *account) == a.tree()


def test_our_upload_is_confirmed_once_and_not_downloaded_again(
    make_client, sync_server, account, mode
):
    a = make_client("a")
    write(a.folder / "f.txt", "ours")
    a.sync()
    second = a.sync()
    assert "uploaded 0, downloaded 0" in second.stdout
    confirmed = "op=RecordBase path=f.txt reason=UPLOAD_CONFIRMED" in second.stderr
    assert confirmed == (mode == "base-only"), second.stderr
    third = a.sync()
    assert "op=" not in third.stderr, third.stderr
    assert (a.folder / "f.txt").read_text() == "ours"
