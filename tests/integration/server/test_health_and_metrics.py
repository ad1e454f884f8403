"""``/healthz`` and ``/metrics`` of a real ``syncd serve``: what a balancer and Prometheus see."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from syncd.protocol import routes
from syncd.soak.harness import ServerProcess, wait_until
from tests.integration.server.conftest import data_dir_of, put

# SQLite's unix VFS locks the WAL index (the -shm file) at these bytes: the writer, the
# checkpointer, recovery and the five read marks. Every reader takes one read mark.
SHM_LOCKS = (120, 8)


def samples(server: ServerProcess) -> dict[tuple[str, frozenset], float]:
    """Every sample of the server's /metrics, keyed by (name, labels)."""
    answer = httpx.get(f"{server.url}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(server: ServerProcess, name: str, **labels: str) -> float:
    return samples(server).get((name, frozenset(labels.items())), 0.0)


def healthz(server: ServerProcess) -> httpx.Response:
    return httpx.get(f"{server.url}/healthz", timeout=30)


@contextmanager
def wal_index_locked(database: Path) -> Iterator[None]:
    """Hold every lock of the database's WAL index, as a process stuck inside it would.

    The database file is there and the server's connections stay open, but no read can
    begin: the database does not answer, as when its disk or file server hangs.
    """
    fd = os.open(f"{database}-shm", os.O_RDWR)
    try:

        def lock() -> bool:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, SHM_LOCKS[1], SHM_LOCKS[0])
            except BlockingIOError:  # a read of the server's holds one right now
                return False
            return True

        assert wait_until(lock, 10), "could not take the WAL index locks"
        yield
    finally:
        os.close(fd)  # closing it drops the locks


def test_healthz_answers_without_a_key_on_full_and_base_only(
    shared_server: ServerProcess, base_server: ServerProcess
) -> None:
    for server in (shared_server, base_server):
        answer = healthz(server)
        assert answer.status_code == 200
        assert answer.json() == {"status": "ok"}
        document = httpx.get(f"{server.url}/openapi.json").json()
        assert document["paths"]["/healthz"]["get"]["security"] == []
        assert "/metrics" in document["paths"]
    assert (
        value(
            base_server, "syncd_http_requests_total", method="GET", route="/healthz", status="200"
        )
        >= 1
    )


def test_healthz_is_503_while_the_database_does_not_answer(server: ServerProcess) -> None:
    assert healthz(server).status_code == 200
    with wal_index_locked(data_dir_of(server) / "syncd.db"):
        answer = healthz(server)
        assert answer.status_code == 503
        assert answer.json() == {"error": "unavailable", "message": "no answer within 2 s"}
        # the first check still hangs: the next answers at once rather than queueing
        assert healthz(server).json()["message"] == "the previous check has not finished yet"
    assert wait_until(lambda: healthz(server).status_code == 200, 30)


def test_healthz_is_503_while_the_data_directory_is_gone(server: ServerProcess) -> None:
    blobs = data_dir_of(server) / "blobs"
    blobs.rename(blobs.with_name("blobs.away"))  # as an unmounted shared file system
    try:
        answer = healthz(server)
        assert answer.status_code == 503
        assert answer.json()["message"] == "the data directory has no blobs/ folder"
    finally:
        blobs.with_name("blobs.away").rename(blobs)
    assert healthz(server).status_code == 200


def test_metrics_count_requests_by_route_template_and_never_name_a_path(
    shared_server: ServerProcess, api_key: str, ws: str, client: httpx.Client
) -> None:
    labels = {"method": "PUT", "route": routes.FILE, "status": "204"}
    before = samples(shared_server)
    for n in range(3):
        assert put(client, ws, f"secret-name-{n}.txt", b"x").status_code == 204
    after = samples(shared_server)

    def grew(name: str, **wanted: str) -> float:
        key = (name, frozenset(wanted.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("syncd_http_requests_total", **labels) == 3
    assert grew("syncd_http_request_duration_seconds_count", method="PUT", route=routes.FILE) == 3
    assert grew("syncd_commit_batch_size_count") >= 1  # the PUTs went through group commit
    assert after[("syncd_db_pool_size", frozenset())] > 0
    assert ("syncd_db_pool_checked_out", frozenset()) in after
    every_label = {v for _name, pairs in after for _k, v in pairs}
    assert not [v for v in every_label if "secret-name" in v or ws in v or api_key in v]


def test_the_parked_long_poll_gauge_rises_and_falls(
    shared_server: ServerProcess, client: httpx.Client, ws: str
) -> None:
    put(client, ws, "first", b"1")
    revision = client.get(f"/api/v1/workspaces/{ws}/changes", params={"from_revision": 0})
    cursor = revision.json()["end_revision"]
    answers: list[httpx.Response] = []

    def poll() -> None:
        answers.append(
            client.get(
                f"/api/v1/workspaces/{ws}/changes",
                params={"from_revision": cursor, "wait": 60},
                timeout=90,
            )
        )

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        assert wait_until(lambda: value(shared_server, "syncd_long_polls_parked") == 1, 20)
        put(client, ws, "second", b"2")
    finally:
        poller.join(30)
    assert [a.status_code for a in answers] == [200]
    assert [e["path"] for e in answers[0].json()["created"]] == ["second"]
    assert value(shared_server, "syncd_long_polls_parked") == 0


def test_no_metrics_and_no_access_log(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", ["--no-metrics", "--no-access-log"]).start()
    try:
        assert httpx.get(f"{server.url}/metrics").status_code == 404
        assert healthz(server).status_code == 200
        assert "/metrics" not in httpx.get(f"{server.url}/openapi.json").json()["paths"]
    finally:
        assert server.stop() == 0
    assert not [line for line in server.stderr_lines if "route=" in line]
