"""Two real ``syncd serve`` processes on one PostgreSQL database and one data directory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from syncd.soak.harness import ServerProcess
from tests.integration.server.conftest import files_url, listing, put
from tests.support.postgres import fresh_database

pytestmark = pytest.mark.postgresql


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    data = tmp_path / "data"
    with (
        fresh_database() as url,
        ServerProcess(data, database_url=url) as one,
        ServerProcess(data, database_url=url) as two,
    ):
        yield one, two


def workspace(http: httpx.Client) -> str:
    response = http.post("/api/v1/workspaces", json={"name": "shared"})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_long_poll_on_one_process_wakes_on_a_write_to_the_other(pair) -> None:
    one, two = pair
    key = one.create_account("poller")
    with one.client(key) as a, two.client(key) as b:
        ws = workspace(a)
        cursor = a.get(f"/api/v1/workspaces/{ws}/changes", params={"from_revision": 0})
        start = cursor.json()["end_revision"]
        answer: dict[str, httpx.Response] = {}

        def poll() -> None:
            params = {"from_revision": start, "wait": 60}
            answer["page"] = b.get(f"/api/v1/workspaces/{ws}/changes", params=params)

        poller = threading.Thread(target=poll)
        poller.start()
        assert put(a, ws, "news", b"hello").status_code == 204
        poller.join(timeout=30)  # the poll waits up to 60 s: only a wake-up answers sooner
        assert not poller.is_alive()
        assert [e["path"] for e in answer["page"].json()["created"]] == ["news"]


def test_writers_on_two_processes_never_repeat_a_revision(pair) -> None:
    one, two = pair
    key = one.create_account("writers")
    with one.client(key) as http:
        ws = workspace(http)
    errors: list[str] = []

    def write(server: ServerProcess, n: int) -> None:
        with server.client(key) as own:
            for i in range(10):
                response = put(own, ws, f"w{n}/f{i}", f"{n}-{i}".encode())
                if response.status_code != 204:
                    errors.append(response.text)

    writers = [threading.Thread(target=write, args=(pair[n % 2], n)) for n in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert errors == []
    with one.client(key) as a, two.client(key) as b:
        page = a.get(f"/api/v1/workspaces/{ws}/changes", params={"from_revision": 0}).json()
        files = [e for e in page["created"] if e["type"] == "file"]
        revisions = [e["revision"] for e in files]
        assert len(files) == 80 and len(set(revisions)) == 80
        assert page["end_revision"] == max(e["revision"] for e in page["created"])
        assert listing(a, ws) == listing(b, ws)


def test_an_upload_begun_on_one_process_commits_on_the_other(pair) -> None:
    one, two = pair
    key = one.create_account("uploader")
    body = bytes(range(256)) * 4096  # 1 MiB, in two chunks
    with one.client(key) as a, two.client(key) as b:
        ws = workspace(a)
        begun = a.post(f"/api/v1/workspaces/{ws}/uploads", json={"path": "big", "size": len(body)})
        assert begun.status_code == 201, begun.text
        upload = begun.json()["upload_id"]
        url = f"/api/v1/workspaces/{ws}/uploads/{upload}"
        half = len(body) // 2
        first = a.put(f"{url}?offset=0", content=body[:half])
        assert first.status_code in (200, 204), first.text
        second = b.put(f"{url}?offset={half}", content=body[half:])
        assert second.status_code in (200, 204), second.text
        done = b.post(f"{url}/commit", json={})
        assert done.status_code in (200, 201), done.text
        assert a.get(files_url(ws, "big")).content == body
