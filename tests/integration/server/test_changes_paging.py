"""E2 paging done in SQL: small pages add up to the one big page, ``has_more`` is exact."""

from __future__ import annotations

import itertools

import httpx
import pytest

from tests.integration.server.conftest import files_url, put


def feed(client: httpx.Client, ws: str, from_revision: int, limit: int) -> dict:
    response = client.get(
        f"/api/v1/workspaces/{ws}/changes",
        params={"from_revision": from_revision, "limit": limit},
    )
    assert response.status_code == 200, response.text
    return response.json()


def walk(client: httpx.Client, ws: str, cursor: int, limit: int) -> tuple[dict, list[dict]]:
    """Follow the feed to its end; the pages concatenated, and each raw page."""
    total: dict = {"created": [], "updated": [], "deleted": []}
    pages: list[dict] = []
    while True:
        page = feed(client, ws, cursor, limit)
        pages.append(page)
        for kind in total:
            total[kind] += page[kind]
        if not page["has_more"]:
            total["end_revision"] = page["end_revision"]
            return total, pages
        cursor = page["end_revision"]


def history(client: httpx.Client, ws: str) -> int:
    """A workspace with creates, edits, a moved and a deleted directory; the cursor mid-way."""
    for index in range(6):
        put(client, ws, f"keep/{index}", b"k")
        put(client, ws, f"doomed/sub/{index}", b"d")
    cursor = feed(client, ws, 0, 10000)["end_revision"]
    put(client, ws, "keep/0", b"edited")
    put(client, ws, "doomed/sub/0", b"edited")
    assert client.delete(files_url(ws, "doomed/sub/1")).status_code == 204
    assert (
        client.post(files_url(ws, "keep"), json={"op": "copy", "dest": "copy"}).status_code == 204
    )
    assert client.delete(files_url(ws, "doomed")).status_code == 204
    assert client.post(files_url(ws, "keep/2"), json={"op": "move", "dest": "m"}).status_code == 204
    put(client, ws, "doomed/back", b"b")
    return cursor


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_small_pages_add_up_to_one_page(client: httpx.Client, ws: str, limit: int) -> None:
    cursor = history(client, ws)
    for start in (0, cursor):
        whole = feed(client, ws, start, 10000)
        assert whole["has_more"] is False
        total, pages = walk(client, ws, start, limit)
        if start:  # nothing after the cursor changes twice, so the pages add up exactly
            assert total == {key: whole[key] for key in total}
        else:  # later pages are read from later cursors: an entry may come as "updated"
            live = {item["path"] for item in total["created"] + total["updated"]}
            assert live == {item["path"] for item in whole["created"]}
            assert total["deleted"] == []  # nothing the listing did not show is deleted
            assert total["end_revision"] == whole["end_revision"]
        revisions = [
            {item["revision"] for kind in ("created", "updated", "deleted") for item in page[kind]}
            for page in pages
        ]
        assert all(revisions), "has_more promised a page that came back empty"
        for earlier, later in itertools.pairwise(revisions):
            assert max(earlier) < min(later), "a revision was split across pages"
        for page, seen, following in zip(pages, revisions, revisions[1:], strict=False):
            assert max(seen) <= page["end_revision"] < min(following)


def test_deleted_directory_is_reported_once_across_pages(client: httpx.Client, ws: str) -> None:
    cursor = history(client, ws)
    total, _ = walk(client, ws, cursor, 1)
    deleted = sorted(item["path"] for item in total["deleted"])
    assert deleted == ["doomed/sub", "keep/2"]  # "doomed" came back as a directory
    assert {"copy", "copy/0", "m", "doomed/back"} <= {item["path"] for item in total["created"]}
    assert [item["path"] for item in total["updated"]] == ["keep/0"]
