"""E2 reports net changes: what came and went after the cursor appears nowhere.

A path that existed at ``from_revision`` and is gone is deleted; one created after it and
gone again is not mentioned (a client that never saw it must not be told to delete it);
one that was deleted and came back is a change. The same holds page by page: each page is
read from where the previous one ended.
"""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import dataclass, field

import httpx
import pytest

from syncd.paths import ancestors, is_within
from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import files_url, put


def feed(client: httpx.Client, ws: str, cursor: int, limit: int = 10000) -> dict:
    response = client.get(
        f"/api/v1/workspaces/{ws}/changes", params={"from_revision": cursor, "limit": limit}
    )
    assert response.status_code == 200, response.text
    return response.json()


def walk(client: httpx.Client, ws: str, cursor: int, limit: int) -> list[dict]:
    pages = [feed(client, ws, cursor, limit)]
    while pages[-1]["has_more"]:
        pages.append(feed(client, ws, pages[-1]["end_revision"], limit))
    return pages


def paths(page: dict, *kinds: str) -> set[str]:
    return {item["path"] for kind in kinds for item in page[kind]}


def delete(client: httpx.Client, ws: str, path: str) -> None:
    assert client.delete(files_url(ws, path)).status_code == 204


def cursor_of(client: httpx.Client, ws: str) -> int:
    return feed(client, ws, 0)["end_revision"]


def test_a_file_created_and_deleted_after_the_cursor_is_not_reported(
    client: httpx.Client, ws: str
) -> None:
    put(client, ws, "keep.txt", b"1")
    cursor = cursor_of(client, ws)
    put(client, ws, "e.txt", b"e")
    delete(client, ws, "e.txt")
    page = feed(client, ws, cursor)
    assert page["created"] == page["updated"] == page["deleted"] == []
    assert page["end_revision"] == cursor + 2


def test_a_directory_created_and_deleted_after_the_cursor_is_not_reported(
    client: httpx.Client, ws: str
) -> None:
    put(client, ws, "keep.txt", b"1")
    cursor = cursor_of(client, ws)
    put(client, ws, "t/q.txt", b"q")
    put(client, ws, "t/r/s.txt", b"s")
    delete(client, ws, "t")
    page = feed(client, ws, cursor)
    assert page["created"] == page["updated"] == page["deleted"] == []


def test_what_existed_at_the_cursor_and_is_gone_is_deleted(client: httpx.Client, ws: str) -> None:
    put(client, ws, "a.txt", b"1")
    put(client, ws, "d/old.txt", b"1")
    cursor = cursor_of(client, ws)
    put(client, ws, "d/new.txt", b"2")  # created after the cursor, gone with its folder
    delete(client, ws, "a.txt")
    put(client, ws, "a.txt", b"again")
    delete(client, ws, "a.txt")  # deleted, back, deleted again: one deletion
    delete(client, ws, "d")
    page = feed(client, ws, cursor)
    deleted = {item["path"]: item for item in page["deleted"]}
    assert set(deleted) == {"a.txt", "d"}
    assert deleted["a.txt"]["revision"] == cursor + 2  # the end of what the cursor saw
    assert deleted["d"]["type"] == "directory"
    assert page["created"] == page["updated"] == []


def test_deleted_and_created_again_is_a_change(client: httpx.Client, ws: str) -> None:
    put(client, ws, "a.txt", b"1")
    put(client, ws, "b", b"file at first")
    cursor = cursor_of(client, ws)
    delete(client, ws, "a.txt")
    put(client, ws, "a.txt", b"2")
    delete(client, ws, "b")
    put(client, ws, "b/inside", b"now a folder")
    page = feed(client, ws, cursor)
    assert paths(page, "created", "updated") == {"a.txt", "b", "b/inside"}
    assert [(item["path"], item["type"]) for item in page["deleted"]] == [("b", "file")]


def test_a_cursor_between_two_lives_of_a_path(client: httpx.Client, ws: str) -> None:
    put(client, ws, "keep.txt", b"1")
    put(client, ws, "e.txt", b"first")
    during_first = cursor_of(client, ws)
    delete(client, ws, "e.txt")
    between = cursor_of(client, ws)
    put(client, ws, "e.txt", b"second")
    delete(client, ws, "e.txt")
    assert paths(feed(client, ws, during_first), "deleted") == {"e.txt"}
    assert feed(client, ws, between)["deleted"] == []


def test_a_page_does_not_end_inside_a_life_it_saw_begin(client: httpx.Client, ws: str) -> None:
    put(client, ws, "keep.txt", b"1")
    cursor = cursor_of(client, ws)
    put(client, ws, "e.txt", b"e")  # its life spans every end a one-item page could have
    put(client, ws, "a.txt", b"a")
    put(client, ws, "b.txt", b"b")
    delete(client, ws, "e.txt")
    put(client, ws, "c.txt", b"c")
    pages = walk(client, ws, cursor, 1)
    assert [paths(page, "created") for page in pages] == [{"a.txt", "b.txt", "c.txt"}]
    assert pages[0]["deleted"] == []
    put(client, ws, "f.txt", b"f")
    put(client, ws, "g.txt", b"g")  # a life that an earlier end avoids
    put(client, ws, "h.txt", b"h")
    delete(client, ws, "g.txt")
    pages = walk(client, ws, pages[0]["end_revision"], 2)
    assert [paths(page, "created") for page in pages] == [{"f.txt"}, {"h.txt"}]
    assert [page["deleted"] for page in pages] == [[], []]


@dataclass
class Model:
    """What the workspace held after each revision, replayed by the test itself."""

    states: list[dict[str, str]] = field(default_factory=lambda: [{}])

    def put(self, path: str) -> None:
        state = dict(self.states[-1])
        state.update({parent: "directory" for parent in ancestors(path)})
        state[path] = "file"
        self.states.append(state)

    def delete(self, path: str) -> None:
        state = {p: t for p, t in self.states[-1].items() if not is_within(p, path)}
        self.states.append(state)

    def move(self, source: str, dest: str) -> None:
        state = dict(self.states[-1])
        for p, t in self.states[-1].items():
            if is_within(p, source):
                del state[p]
                state[dest + p[len(source) :]] = t
        self.states.append(state)

    def deleted_since(self, cursor: int) -> set[tuple[str, str]]:
        """Paths the cursor saw that are gone or changed type, less those implied."""
        then, now = self.states[cursor], self.states[-1]
        gone = {p: t for p, t in then.items() if now.get(p) != t}
        return {
            (p, t)
            for p, t in gone.items()
            if not any(gone.get(parent) == "directory" for parent in ancestors(p))
        }


def churn(client: httpx.Client, ws: str) -> Model:
    """Lives that begin and end across one another, in and out of folders, type changes."""
    model = Model()

    def do_put(path: str) -> None:
        put(client, ws, path, path.encode())
        model.put(path)

    def do_delete(path: str) -> None:
        delete(client, ws, path)
        model.delete(path)

    def do_move(source: str, dest: str) -> None:
        response = client.post(files_url(ws, source), json={"op": "move", "dest": dest})
        assert response.status_code == 204, response.text
        model.move(source, dest)

    do_put("keep/a")
    do_put("tmp1")
    do_put("d/x")
    do_put("keep/b")
    do_put("d/y")
    do_delete("tmp1")
    do_put("t/q.txt")
    do_put("keep/c")
    do_delete("t")
    do_put("tmp1")
    do_move("keep/b", "keep/bb")
    do_delete("d/x")
    do_put("d/z")
    do_put("long/lived")
    do_delete("d")
    do_put("d")
    do_put("keep/a")
    do_delete("tmp1")
    do_put("tmp1/sub")
    do_put("m/n/o")
    do_move("m", "mm")
    do_delete("long")
    do_put("last")
    assert cursor_of(client, ws) == len(model.states) - 1
    return model


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_pages_from_every_cursor_add_up_to_the_net_changes(
    client: httpx.Client, ws: str, limit: int
) -> None:
    model = churn(client, ws)
    for cursor in range(len(model.states)):
        whole = feed(client, ws, cursor)
        expected = model.deleted_since(cursor) if cursor else set()
        assert {(item["path"], item["type"]) for item in whole["deleted"]} == expected, cursor
        pages = walk(client, ws, cursor, limit)
        reported = [(item["path"], item["type"]) for page in pages for item in page["deleted"]]
        assert sorted(reported) == sorted(expected), (cursor, pages)
        live = [item["path"] for page in pages for item in page["created"] + page["updated"]]
        assert sorted(live) == sorted(paths(whole, "created", "updated")), cursor
        assert pages[-1]["end_revision"] == whole["end_revision"]
        for page, following in itertools.pairwise(pages):
            seen = [
                item["revision"]
                for kind in ("created", "updated", "deleted")
                for item in page[kind]
            ]
            later = [
                item["revision"]
                for kind in ("created", "updated", "deleted")
                for item in following[kind]
            ]
            assert seen and max(seen) <= page["end_revision"] < min(later), (cursor, pages)


def test_tombstones_of_an_older_data_directory_are_kept(tmp_path) -> None:
    """A data directory whose tombstones have no ``created_revision`` yet still serves them."""
    data = tmp_path / "data"
    with ServerProcess(data) as server:
        key = server.create_account("old")
        with server.client(key) as http:
            wid = http.post("/api/v1/workspaces").json()["id"]
            put(http, wid, "a", b"1")
            put(http, wid, "b", b"1")
            cursor = cursor_of(http, wid)
            delete(http, wid, "a")
    with sqlite3.connect(data / "syncd.db") as db:  # the table as an older version made it
        db.executescript(
            """
            DROP TABLE alembic_version;
            CREATE TABLE old AS SELECT workspace_id, path, type, revision FROM tombstones;
            DROP TABLE tombstones;
            CREATE TABLE tombstones (
                workspace_id VARCHAR NOT NULL REFERENCES workspaces (id),
                path VARCHAR NOT NULL, type VARCHAR NOT NULL, revision INTEGER NOT NULL,
                PRIMARY KEY (workspace_id, path));
            CREATE INDEX tombstones_by_revision ON tombstones (workspace_id, revision);
            INSERT INTO tombstones SELECT * FROM old;
            DROP TABLE old;
            """
        )
    with ServerProcess(data) as server, server.client(key) as http:
        assert paths(feed(http, wid, cursor), "deleted") == {"a"}
        put(http, wid, "a", b"2")
        delete(http, wid, "a")
        delete(http, wid, "b")
        assert paths(feed(http, wid, cursor), "deleted") == {"a", "b"}
        assert paths(feed(http, wid, cursor + 1), "deleted") == {"b"}


def test_lives_that_overlap_past_every_reach_run_the_page_on(client: httpx.Client, ws: str) -> None:
    """Temporary files whose lives overlap without pause for longer than a page can grow:
    every end a page could have cuts one, so the page runs on to where none is cut, and no
    page reports the deletion of a file its client never saw."""
    put(client, ws, "keep.txt", b"1")
    cursor = cursor_of(client, ws)
    put(client, ws, "tmp/0", b"t")
    for i in range(1, 130):
        put(client, ws, f"tmp/{i}", b"t")
        put(client, ws, f"kept/{i}", b"k")
        delete(client, ws, f"tmp/{i - 1}")
    delete(client, ws, "tmp/129")
    put(client, ws, "after.txt", b"a")
    pages = walk(client, ws, cursor, 1)
    assert [item for page in pages for item in page["deleted"]] == [], pages[-1]
    created = [item["path"] for page in pages for item in page["created"]]
    assert sorted(created) == sorted(
        ["tmp", "kept", "after.txt", *(f"kept/{i}" for i in range(1, 130))]
    )
    assert len(pages) >= 2  # the run-on ends, and the page after it starts where it ended
