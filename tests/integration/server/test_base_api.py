"""Every row of PROTOCOL.md's base API table, over HTTP against the real server."""

from __future__ import annotations

import re
import uuid

import httpx

from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import assert_error, files_url, listing, put

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")


def test_account_me_and_by_tag(client: httpx.Client) -> None:
    me = client.get("/api/v1/accounts/me").json()
    assert set(me) == {"id", "tag", "create_time", "last_active_day", "total_active_days"}
    assert me["id"].startswith("a-")
    assert ISO.match(me["create_time"])
    assert me["total_active_days"] >= 1
    by_id = client.get(f"/api/v1/accounts/{me['id']}").json()
    by_tag = client.get(f"/api/v1/accounts/by-tag/{me['tag']}").json()
    assert by_id == by_tag == me
    assert_error(client.get("/api/v1/accounts/by-tag/no-such-tag-x"), 404, "not_found")
    assert_error(client.get("/api/v1/accounts/a-missing"), 404, "not_found")


def test_unauthorized(shared_server: ServerProcess) -> None:
    with httpx.Client(base_url=shared_server.url) as anon:
        assert_error(anon.get("/api/v1/workspaces"), 401, "unauthorized")
        bad = {"Authorization": "Bearer not-a-key"}
        assert_error(anon.get("/api/v1/accounts/me", headers=bad), 401, "unauthorized")
        assert_error(anon.get("/api/v1/capabilities", headers=bad), 401, "unauthorized")


def test_workspace_lifecycle(client: httpx.Client) -> None:
    created = client.post("/api/v1/workspaces", json={"name": "Mine"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "size", "create_time", "modified_time"}
    assert body["id"].startswith("w-") and body["name"] == "Mine" and body["size"] == 0
    wid = body["id"]
    unnamed = client.post("/api/v1/workspaces")
    assert unnamed.status_code == 201 and unnamed.json()["name"]
    ids = [w["id"] for w in client.get("/api/v1/workspaces").json()["workspaces"]]
    assert wid in ids and unnamed.json()["id"] in ids
    put(client, wid, "a.txt", b"12345")
    assert client.get(f"/api/v1/workspaces/{wid}").json()["size"] == 5
    renamed = client.patch(f"/api/v1/workspaces/{wid}", json={"name": "Renamed"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    assert_error(client.patch(f"/api/v1/workspaces/{wid}", json={}), 400, "invalid_parameter")
    assert client.delete(f"/api/v1/workspaces/{wid}").status_code == 204
    assert_error(client.get(f"/api/v1/workspaces/{wid}"), 404, "not_found")
    assert_error(client.get(files_url(wid)), 404, "not_found")
    ids = [w["id"] for w in client.get("/api/v1/workspaces").json()["workspaces"]]
    assert wid not in ids


def test_other_account_workspace_is_not_found(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    other_key = shared_server.create_account(f"other-{uuid.uuid4().hex[:8]}")
    with shared_server.client(other_key) as other:
        missing = other.get("/api/v1/workspaces/w-doesnotexist")
        foreign = other.get(f"/api/v1/workspaces/{ws}")
        assert_error(foreign, 404, "not_found")
        assert foreign.json() == {**missing.json(), "message": foreign.json()["message"]}
        assert_error(other.get(files_url(ws, "x")), 404, "not_found")
        assert_error(put(other, ws, "x", b"1"), 404, "not_found")
        assert_error(other.delete(f"/api/v1/workspaces/{ws}"), 404, "not_found")
    assert listing(client, ws) == {}


def test_put_get_delete_and_listing(client: httpx.Client, ws: str) -> None:
    assert put(client, ws, "docs/sub/a.txt", b"alpha").status_code == 204
    assert put(client, ws, "b.txt", b"").status_code == 204
    got = client.get(files_url(ws, "docs/sub/a.txt"))
    assert got.status_code == 200 and got.content == b"alpha"
    entries = client.get(files_url(ws)).json()["entries"]
    assert [e["path"] for e in entries] == ["b.txt", "docs", "docs/sub", "docs/sub/a.txt"]
    by_path = {e["path"]: e for e in entries}
    assert by_path["docs"]["type"] == "directory" and by_path["docs"]["size"] is None
    assert by_path["docs/sub/a.txt"]["size"] == 5 and ISO.match(by_path["b.txt"]["modified_time"])
    assert put(client, ws, "b.txt", b"again").status_code == 204
    assert client.get(files_url(ws, "b.txt")).content == b"again"
    assert client.delete(files_url(ws, "docs")).status_code == 204
    assert set(listing(client, ws)) == {"b.txt"}
    assert_error(client.get(files_url(ws, "docs/sub/a.txt")), 404, "not_found")
    assert_error(client.delete(files_url(ws, "nope")), 404, "not_found")


def test_listing_sorted_by_code_point(client: httpx.Client, ws: str) -> None:
    names = ["b", "a-b", "a/b", "a", "A", "é", "z", "a.b"]
    for name in ["b", "a-b", "a/b", "A", "é", "z", "a.b"]:
        put(client, ws, name, b"x")
    paths = list(listing(client, ws))
    assert paths == sorted(set(names))


def test_put_conflicts(client: httpx.Client, ws: str) -> None:
    put(client, ws, "file", b"x")
    assert_error(put(client, ws, "file/child", b"y"), 409, "conflict")
    put(client, ws, "dir/inner", b"z")
    assert_error(put(client, ws, "dir", b"y"), 409, "conflict")
    assert client.get(files_url(ws, "file")).content == b"x"
    assert_error(client.get(files_url(ws, "dir")), 409, "conflict")  # a directory, not a file
    assert_error(client.get(files_url(ws, "file/child")), 404, "not_found")


def test_mkdir(client: httpx.Client, ws: str) -> None:
    assert client.post(files_url(ws, "x/y"), json={"op": "mkdir"}).status_code == 204
    assert client.post(files_url(ws, "x/y"), json={"op": "mkdir"}).status_code == 204
    assert listing(client, ws)["x/y"]["type"] == "directory"
    put(client, ws, "f", b"1")
    assert_error(client.post(files_url(ws, "f"), json={"op": "mkdir"}), 409, "conflict")
    assert_error(client.post(files_url(ws, "f/g"), json={"op": "mkdir"}), 409, "conflict")
    assert_error(client.post(files_url(ws, "q"), json={"op": "nope"}), 400, "invalid_parameter")
    assert_error(client.post(files_url(ws, "q"), content=b"{bad"), 400, "invalid_parameter")


def test_move_and_copy(client: httpx.Client, ws: str) -> None:
    put(client, ws, "src/a.txt", b"A")
    put(client, ws, "src/deep/b.txt", b"B")
    put(client, ws, "other", b"O")
    move = client.post(files_url(ws, "src"), json={"op": "move", "dest": "moved/here"})
    assert move.status_code == 204
    paths = set(listing(client, ws))
    assert {"moved", "moved/here", "moved/here/a.txt", "moved/here/deep/b.txt"} <= paths
    assert not any(p.startswith("src") for p in paths)
    copy = client.post(files_url(ws, "moved/here/a.txt"), json={"op": "copy", "dest": "c.txt"})
    assert copy.status_code == 204
    assert client.get(files_url(ws, "c.txt")).content == b"A"
    assert client.get(files_url(ws, "moved/here/a.txt")).content == b"A"
    before = listing(client, ws)
    onto = client.post(files_url(ws, "c.txt"), json={"op": "move", "dest": "other"})
    assert_error(onto, 409, "conflict")
    into = client.post(files_url(ws, "moved"), json={"op": "move", "dest": "moved/x"})
    assert_error(into, 409, "conflict")
    copy_onto = client.post(files_url(ws, "c.txt"), json={"op": "copy", "dest": "other"})
    assert_error(copy_onto, 409, "conflict")
    under_file = client.post(files_url(ws, "c.txt"), json={"op": "move", "dest": "other/c"})
    assert_error(under_file, 409, "conflict")
    missing = client.post(files_url(ws, "nope"), json={"op": "move", "dest": "n2"})
    assert_error(missing, 404, "not_found")
    assert listing(client, ws) == before
    assert client.get(files_url(ws, "other")).content == b"O"


def test_active_workspace(client: httpx.Client, ws: str) -> None:
    set_it = client.post("/api/v1/workspaces/active", json={"workspace_id": ws})
    assert set_it.status_code == 200 and set_it.json()["id"] == ws
    assert client.get("/api/v1/workspaces/active").json()["id"] == ws
    bad = client.post("/api/v1/workspaces/active", json={"workspace_id": "w-nope"})
    assert_error(bad, 400, "invalid_parameter")
    cleared = client.post("/api/v1/workspaces/active", json={"workspace_id": None})
    assert cleared.status_code == 200 and cleared.json() is None
    client.post("/api/v1/workspaces/active", json={"workspace_id": ws})
    client.delete(f"/api/v1/workspaces/{ws}")
    after = client.get("/api/v1/workspaces/active")
    assert after.status_code == 200 and after.json() is None


def test_error_shapes_for_unknown_routes_and_methods(client: httpx.Client) -> None:
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(client.get("/"), 404, "not_found")
    assert_error(client.patch("/api/v1/workspaces"), 405, "invalid_parameter")
    assert_error(client.put("/api/v1/accounts/me"), 405, "invalid_parameter")
    response = client.get("/api/v1/workspaces")
    assert response.headers["content-type"].startswith("application/json")


def test_base_entries_carry_extension_fields_on_full_server(client: httpx.Client, ws: str) -> None:
    put(client, ws, "d/f", b"x")
    entries = listing(client, ws)
    assert set(entries["d/f"]) == {"path", "type", "size", "modified_time", "revision", "hash"}
    assert entries["d"]["hash"] is None
