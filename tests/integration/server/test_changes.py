"""E2: the change feed: full listing, net changes, paging, long poll, 410 after pruning."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import assert_error, files_url, put


def feed(client: httpx.Client, ws: str, **params: object) -> dict:
    response = client.get(f"/api/v1/workspaces/{ws}/changes", params=params, timeout=90)
    assert response.status_code == 200, response.text
    return response.json()


def paths(items: list[dict]) -> list[str]:
    return [item["path"] for item in items]


def test_full_listing_at_zero(client: httpx.Client, ws: str) -> None:
    put(client, ws, "a/b", b"1")
    put(client, ws, "c", b"2")
    page = feed(client, ws, from_revision=0)
    assert sorted(paths(page["created"])) == ["a", "a/b", "c"]
    assert page["updated"] == page["deleted"] == [] and page["has_more"] is False
    assert page["end_revision"] == 2


def test_net_changes(client: httpx.Client, ws: str) -> None:
    put(client, ws, "keep", b"1")
    put(client, ws, "edit", b"1")
    put(client, ws, "gone/x", b"1")
    put(client, ws, "gone/y", b"1")
    cursor = feed(client, ws, from_revision=0)["end_revision"]
    put(client, ws, "edit", b"2")
    put(client, ws, "new", b"1")
    put(client, ws, "temp", b"1")
    client.delete(files_url(ws, "temp"))
    client.delete(files_url(ws, "gone"))
    page = feed(client, ws, from_revision=cursor)
    assert paths(page["updated"]) == ["edit"]
    assert paths(page["created"]) == ["new"]
    deleted = {item["path"]: item for item in page["deleted"]}
    assert set(deleted) == {"gone"}  # gone/x and gone/y are implied; temp came and went
    assert deleted["gone"]["type"] == "directory"
    assert all(item["revision"] > cursor for item in page["deleted"])
    assert feed(client, ws, from_revision=page["end_revision"])["created"] == []


def test_move_is_delete_plus_create_with_same_hash(client: httpx.Client, ws: str) -> None:
    put(client, ws, "dir/a", b"A")
    put(client, ws, "dir/sub/b", b"B")
    put(client, ws, "f", b"F")
    before = {e["path"]: e for e in feed(client, ws, from_revision=0)["created"]}
    cursor = max(e["revision"] for e in before.values())
    client.post(files_url(ws, "dir"), json={"op": "move", "dest": "moved"})
    client.post(files_url(ws, "f"), json={"op": "move", "dest": "g"})
    page = feed(client, ws, from_revision=cursor)
    assert sorted(paths(page["deleted"])) == ["dir", "f"]
    created = {e["path"]: e for e in page["created"]}
    assert set(created) == {"moved", "moved/a", "moved/sub", "moved/sub/b", "g"}
    assert created["moved/a"]["hash"] == before["dir/a"]["hash"]
    assert created["g"]["hash"] == before["f"]["hash"]


def test_recreated_directory_reports_its_old_children(client: httpx.Client, ws: str) -> None:
    put(client, ws, "d/old", b"1")
    cursor = feed(client, ws, from_revision=0)["end_revision"]
    client.delete(files_url(ws, "d"))
    put(client, ws, "d/new", b"2")
    page = feed(client, ws, from_revision=cursor)
    assert paths(page["deleted"]) == ["d/old"]
    assert "d/new" in paths(page["created"])


def test_paging_never_splits_a_revision(client: httpx.Client, ws: str) -> None:
    for name in ["p1", "p2", "p3"]:
        put(client, ws, name, b"x")
    for name in ["m/a", "m/b", "m/c"]:
        put(client, ws, name, b"y")
    cursor = feed(client, ws, from_revision=0)["end_revision"]
    client.post(files_url(ws, "m"), json={"op": "copy", "dest": "n"})  # 4 entries, 1 revision
    put(client, ws, "last", b"z")
    page = feed(client, ws, from_revision=cursor, limit=1)
    assert sorted(paths(page["created"])) == ["n", "n/a", "n/b", "n/c"]
    assert page["has_more"] is True and page["end_revision"] == cursor + 1
    rest = feed(client, ws, from_revision=page["end_revision"], limit=1)
    assert paths(rest["created"]) == ["last"] and rest["has_more"] is False
    # A full listing pages the same way and loses nothing.
    seen: list[str] = []
    position, more = 0, True
    while more:
        step = feed(client, ws, from_revision=position, limit=2)
        seen += paths(step["created"])
        position, more = step["end_revision"], step["has_more"]
    assert sorted(seen) == sorted(
        ["p1", "p2", "p3", "m", "m/a", "m/b", "m/c", "n", "n/a", "n/b", "n/c", "last"]
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"from_revision": "x"},
        {"from_revision": -1},
        {"from_revision": 0, "limit": 0},
        {"from_revision": 0, "limit": 10001},
        {"from_revision": 0, "wait": 61},
    ],
)
def test_bad_parameters(client: httpx.Client, ws: str, params: dict) -> None:
    response = client.get(f"/api/v1/workspaces/{ws}/changes", params=params)
    assert_error(response, 400, "invalid_parameter")


def test_cursor_above_current_is_410(client: httpx.Client, ws: str) -> None:
    put(client, ws, "a", b"1")
    response = client.get(f"/api/v1/workspaces/{ws}/changes", params={"from_revision": 99})
    assert_error(response, 410, "revision_obsoleted")


def test_wait_without_change_returns_empty_after_the_wait(client: httpx.Client, ws: str) -> None:
    put(client, ws, "a", b"1")
    cursor = feed(client, ws, from_revision=0)["end_revision"]
    started = time.monotonic()
    page = feed(client, ws, from_revision=cursor, wait=1)
    assert time.monotonic() - started >= 0.9
    assert page == {
        "end_revision": cursor,
        "created": [],
        "updated": [],
        "deleted": [],
        "has_more": False,
    }


def test_long_poll_wakes_when_another_thread_writes(
    shared_server: ServerProcess, api_key: str, client: httpx.Client, ws: str
) -> None:
    put(client, ws, "a", b"1")
    cursor = feed(client, ws, from_revision=0)["end_revision"]
    result: dict = {}
    sending = threading.Event()

    def poll() -> None:
        with shared_server.client(api_key) as own:
            sending.set()
            started = time.monotonic()
            result["page"] = feed(own, ws, from_revision=cursor, wait=30)
            result["elapsed"] = time.monotonic() - started

    poller = threading.Thread(target=poll)
    poller.start()
    assert sending.wait(10)
    writer = threading.Thread(target=lambda: put(client, ws, "b", b"2"))
    writer.start()
    writer.join(30)
    poller.join(40)
    assert paths(result["page"]["created"]) == ["b"]
    assert result["elapsed"] < 10  # answered on the change, not at the 30 s deadline


@pytest.fixture(scope="module")
def history_server(tmp_path_factory: pytest.TempPathFactory):
    with ServerProcess(
        tmp_path_factory.mktemp("hist") / "data", extra_args=["--history", "3"]
    ) as proc:
        yield proc


def test_history_pruning_answers_410(history_server: ServerProcess) -> None:
    key = history_server.create_account("hist")
    with history_server.client(key) as http:
        wid = http.post("/api/v1/workspaces").json()["id"]
        for i in range(6):
            put(http, wid, f"f{i}", b"x")
        http.delete(files_url(wid, "f0"))  # revision 7
        old = http.get(f"/api/v1/workspaces/{wid}/changes", params={"from_revision": 2})
        assert_error(old, 410, "revision_obsoleted")
        kept = feed(http, wid, from_revision=4)
        assert paths(kept["created"]) == ["f4", "f5"]
        assert paths(kept["deleted"]) == ["f0"]
        full = feed(http, wid, from_revision=0)
        assert len(full["created"]) == 5 and full["end_revision"] == 7
