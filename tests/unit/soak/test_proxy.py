"""The fault proxy does, as an httpx client sees it, exactly what each fault says.

The upstream is a small uvicorn app in this module (so these tests need no syncd server),
plus one check against the real ``syncd serve`` once it exists.
"""

from __future__ import annotations

import hashlib
import importlib.util
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from syncd.soak.harness import ServerProcess
from syncd.soak.proxy import Fault, FaultProxy, LogEntry

BLOCK = 64 * 1024
MIB = 1024 * 1024


def pattern(size: int) -> Iterator[bytes]:
    """Deterministic bytes that differ block by block, so reordering would show."""
    index = 0
    while size > 0:
        block = (hashlib.sha256(index.to_bytes(8, "big")).digest() * (BLOCK // 32))[:size]
        size -= len(block)
        index += 1
        yield block


def pattern_bytes(size: int) -> bytes:
    return b"".join(pattern(size))


def pattern_hash(size: int) -> str:
    digest = hashlib.sha256()
    for block in pattern(size):
        digest.update(block)
    return digest.hexdigest()


class Upstream:
    """A uvicorn app on a free loopback port that records what reached it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[str] = []
        self.completed_uploads = 0
        self.partial_uploads: list[int] = []
        routes = [
            Route("/echo", self.echo, methods=["GET", "POST", "DELETE"]),
            Route("/bytes/{size:int}", self.download, methods=["GET"]),
            Route("/sink", self.sink, methods=["PUT", "POST"]),
        ]
        self.app = Starlette(routes=routes)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def start(self) -> Upstream:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "upstream did not start"
            time.sleep(0.01)  # waiting for a start flag with a deadline, not for sync
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    async def echo(self, request: Request) -> Response:
        self.seen.append(request.url.path)
        assert request.client is not None
        body = {"name": self.name, "port": request.client.port, "query": request.url.query}
        return JSONResponse(body | {"method": request.method})

    async def download(self, request: Request) -> Response:
        self.seen.append(request.url.path)
        size = request.path_params["size"]
        headers = {} if request.query_params.get("chunked") else {"Content-Length": str(size)}
        return StreamingResponse(pattern(size), headers=headers)

    async def sink(self, request: Request) -> Response:
        self.seen.append(request.url.path)
        digest, size = hashlib.sha256(), 0
        try:
            async for chunk in request.stream():
                digest.update(chunk)
                size += len(chunk)
        except ClientDisconnect:
            self.partial_uploads.append(size)
            return Response(status_code=499)
        self.completed_uploads += 1
        return JSONResponse({"size": size, "sha256": digest.hexdigest(), "name": self.name})


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream("a").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def other_upstream() -> Iterator[Upstream]:
    server = Upstream("b").start()
    yield server
    server.stop()


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    upstream.seen.clear()
    with FaultProxy(upstream.url, seed=7) as running:
        yield running
        assert running.errors == []


@pytest.fixture
def client(proxy: FaultProxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy.url, timeout=10) as http:
        yield http


def test_requests_pass_through_on_one_kept_alive_connection(
    proxy: FaultProxy, client: httpx.Client, upstream: Upstream
) -> None:
    answers = [client.get("/echo", params={"n": n}) for n in range(5)]
    assert [a.json()["query"] for a in answers] == [f"n={n}" for n in range(5)]
    assert len({a.json()["port"] for a in answers}) == 1  # one upstream connection too
    assert proxy.connections == 1
    assert proxy.count() == 5 and proxy.count("GET", r"n=3$") == 1
    assert proxy.log[0] == LogEntry("GET", "/echo?n=0", 200, None)
    assert upstream.seen == ["/echo"] * 5


def read_stream(client: httpx.Client, path: str, received: bytearray) -> int:
    with client.stream("GET", path) as answer:
        for chunk in answer.iter_raw():
            received.extend(chunk)
    return answer.status_code


@pytest.mark.parametrize("query", ["", "?chunked=1"])
@pytest.mark.parametrize("after", [0, 1000])
def test_reset_response_resets_after_the_given_bytes(
    proxy: FaultProxy, client: httpx.Client, query: str, after: int
) -> None:
    proxy.add(Fault("reset_response", path="^/bytes/", after_bytes=after))
    received = bytearray()
    with pytest.raises(httpx.ReadError):
        read_stream(client, f"/bytes/100000{query}", received)
    assert bytes(received) == pattern_bytes(100000)[:after]
    assert proxy.log[-1] == LogEntry("GET", f"/bytes/100000{query}", 200, "reset_response")
    assert read_stream(client, "/bytes/10", bytearray()) == 200  # a new connection works


@pytest.mark.parametrize("query", ["", "?chunked=1"])
def test_truncate_closes_cleanly_mid_body(
    proxy: FaultProxy, client: httpx.Client, query: str
) -> None:
    proxy.add(Fault("truncate", after_bytes=1000))
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):
        read_stream(client, f"/bytes/100000{query}", received)
    assert bytes(received) == pattern_bytes(1000)


def test_truncate_of_a_short_body_still_withholds_its_last_byte(
    proxy: FaultProxy, client: httpx.Client
) -> None:
    proxy.add(Fault("truncate", after_bytes=5000))
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):
        read_stream(client, "/bytes/500", received)
    assert bytes(received) == pattern_bytes(499)


def test_reset_response_of_a_bodiless_answer_cuts_before_the_head(
    proxy: FaultProxy, client: httpx.Client, upstream: Upstream
) -> None:
    proxy.add(Fault("reset_response", method="HEAD"))
    with pytest.raises(httpx.ReadError):
        client.head("/bytes/10")
    assert upstream.seen == ["/bytes/10"]  # the request itself did arrive


def test_reset_request_mid_upload_never_delivers_the_whole_body(
    proxy: FaultProxy, client: httpx.Client, upstream: Upstream
) -> None:
    before = upstream.completed_uploads
    proxy.add(Fault("reset_request", method="PUT", path="^/sink$", after_bytes=100_000))
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.put("/sink", content=iter([b"x" * BLOCK] * 64))
    assert proxy.log[-1] == LogEntry("PUT", "/sink", None, "reset_request")
    answer = client.put("/sink", content=b"y" * 10)  # fault spent: passes on a new connection
    assert answer.json()["size"] == 10
    assert upstream.completed_uploads == before + 1
    assert all(size <= 100_000 for size in upstream.partial_uploads)


def test_reset_request_of_a_small_body_is_a_read_error(
    proxy: FaultProxy, client: httpx.Client, upstream: Upstream
) -> None:
    before = upstream.completed_uploads
    proxy.add(Fault("reset_request", after_bytes=10_000))
    with pytest.raises(httpx.ReadError):
        client.put("/sink", content=b"z" * 1000)  # shorter than after_bytes: cut before the end
    assert upstream.completed_uploads == before


def test_reset_request_without_body_is_never_forwarded(
    proxy: FaultProxy, client: httpx.Client, upstream: Upstream
) -> None:
    proxy.add(Fault("reset_request", method="DELETE"))
    with pytest.raises(httpx.ReadError):
        client.delete("/echo")
    assert upstream.seen == []
    assert client.delete("/echo").json()["method"] == "DELETE"


@pytest.mark.parametrize(
    ("status", "code", "retry_after", "header"),
    [
        (429, "rate_limited", 2.0, "2"),
        (500, "internal", None, None),
        (502, "internal", None, None),
        (503, "unavailable", 0.25, "0.25"),
        (503, "unavailable", None, None),
        (504, "internal", None, None),
    ],
)
def test_status_answers_the_protocol_error_body(
    proxy: FaultProxy,
    client: httpx.Client,
    upstream: Upstream,
    status: int,
    code: str,
    retry_after: float | None,
    header: str | None,
) -> None:
    proxy.add(Fault("status", method="PUT", status=status, retry_after=retry_after))
    answer = client.put("/sink", content=b"a" * 300_000)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"] == code and answer.json()["message"]
    assert answer.headers.get("retry-after") == header
    assert upstream.seen == []
    assert client.put("/sink", content=b"b").status_code == 200
    assert proxy.connections == 1  # the body was read: keep-alive survives the error
    assert [e.status for e in proxy.log] == [status, 200]


def test_stall_without_delay_outlasts_the_client_timeout(
    proxy: FaultProxy, client: httpx.Client, upstream: Upstream
) -> None:
    proxy.add(Fault("stall", path="^/echo"))
    with pytest.raises(httpx.ReadTimeout):
        client.get("/echo", timeout=0.3)
    assert upstream.seen == []
    assert client.get("/echo").status_code == 200  # other connections are not held up


def test_stall_with_delay_forwards_late(proxy: FaultProxy, client: httpx.Client) -> None:
    proxy.add(Fault("stall", delay=0.3))
    started = time.monotonic()
    assert client.get("/echo").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_stall_mid_response_after_the_given_bytes(proxy: FaultProxy, client: httpx.Client) -> None:
    proxy.add(Fault("stall", after_bytes=1000))
    received = bytearray()
    with (
        pytest.raises(httpx.ReadTimeout),
        client.stream("GET", "/bytes/100000", timeout=0.3) as answer,
    ):
        for chunk in answer.iter_raw():
            received.extend(chunk)
    assert bytes(received) == pattern_bytes(1000)


def statuses(client: httpx.Client, path: str, n: int) -> list[int]:
    return [client.get(path).status_code for _ in range(n)]


def test_times_is_honoured(proxy: FaultProxy, client: httpx.Client) -> None:
    proxy.add(Fault("status", status=503, times=2))
    assert statuses(client, "/echo", 4) == [503, 503, 200, 200]
    proxy.add(Fault("status", status=500, times=None))
    assert statuses(client, "/echo", 3) == [500, 500, 500]
    proxy.clear()
    assert statuses(client, "/echo", 1) == [200]


def test_first_matching_fault_in_order_applies(proxy: FaultProxy, client: httpx.Client) -> None:
    proxy.add(Fault("status", method="PUT", status=500, times=None))
    proxy.add(Fault("status", path=r"x=1", status=429, times=None))
    proxy.add(Fault("status", path="^/echo", status=503, times=None))
    assert client.put("/sink", content=b"1", params={"x": 1}).status_code == 500
    assert client.get("/echo", params={"x": 1}).status_code == 429
    assert client.get("/echo").status_code == 503
    assert client.get("/bytes/3").status_code == 200
    assert proxy.count(path="^/echo") == 2 and proxy.count("PUT") == 1


def test_concurrent_clients_each_get_their_own_connections(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.add(Fault("status", status=503, times=None, probability=0.3))
    results: list[int] = []

    def run() -> None:
        with httpx.Client(base_url=proxy.url, timeout=10) as http:
            results.extend(statuses(http, "/echo", 10))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 40 and set(results) == {200, 503}
    assert proxy.connections == 4 and proxy.count() == 40
    assert len(upstream.seen) == results.count(200)


def test_invalid_faults_are_refused() -> None:
    with pytest.raises(ValueError):
        Fault("explode")
    with pytest.raises(ValueError):
        Fault("status")
    with pytest.raises(ValueError):
        Fault("hook")


def probability_pattern(upstream: Upstream, seed: int) -> list[int]:
    with FaultProxy(upstream.url, seed=seed) as proxy, httpx.Client(base_url=proxy.url) as http:
        proxy.add(Fault("status", status=503, times=None, probability=0.5))
        return statuses(http, "/echo", 40)


def test_seeded_probability_is_reproducible(upstream: Upstream) -> None:
    first = probability_pattern(upstream, seed=1)
    assert first == probability_pattern(upstream, seed=1)
    assert first != probability_pattern(upstream, seed=2)
    assert 5 < first.count(503) < 35


def test_hook_runs_in_a_thread_before_forwarding(
    proxy: FaultProxy, client: httpx.Client, upstream: Upstream
) -> None:
    calls: list[tuple[list[str], bool]] = []

    def hook() -> None:
        calls.append((list(upstream.seen), threading.current_thread() is threading.main_thread()))

    proxy.add(Fault("hook", path="^/echo", hook=hook))
    assert client.get("/echo").status_code == 200
    assert calls == [([], False)]
    assert upstream.seen == ["/echo"]


def test_set_upstream_retargets_kept_alive_clients(
    proxy: FaultProxy, client: httpx.Client, other_upstream: Upstream
) -> None:
    assert client.get("/echo").json()["name"] == "a"
    proxy.set_upstream(other_upstream.url)
    assert client.get("/echo").json()["name"] == "b"
    assert proxy.connections == 1


def test_hook_may_retarget_the_request_it_runs_for(
    proxy: FaultProxy, client: httpx.Client, upstream: Upstream, other_upstream: Upstream
) -> None:
    assert client.get("/echo").json()["name"] == "a"
    proxy.add(Fault("hook", hook=lambda: proxy.set_upstream(other_upstream.url)))
    assert client.get("/echo").json()["name"] == "b"


def test_unreachable_upstream_answers_502(upstream: Upstream) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{dead.getsockname()[1]}"
    dead.close()
    with FaultProxy(url) as proxy, httpx.Client(base_url=proxy.url) as http:
        answer = http.get("/echo")
        assert (answer.status_code, answer.json()["error"]) == (502, "internal")
        proxy.set_upstream(upstream.url)
        assert http.get("/echo").status_code == 200


class PeakMemory:
    """Peak of Python allocations in this process (proxy, client and upstream together)."""

    def __enter__(self) -> PeakMemory:
        tracemalloc.start()
        self.peak = 0
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def test_64_mib_upload_streams_through_with_bounded_memory(
    proxy: FaultProxy, client: httpx.Client
) -> None:
    size = 64 * MIB
    with PeakMemory() as memory:
        answer = client.put("/sink", content=pattern(size), timeout=60)
    assert answer.json() == {"size": size, "sha256": pattern_hash(size), "name": "a"}
    assert memory.peak < 16 * MIB


@pytest.mark.parametrize("query", ["", "?chunked=1"])
def test_64_mib_download_streams_through_with_bounded_memory(
    proxy: FaultProxy, client: httpx.Client, query: str
) -> None:
    size = 64 * MIB
    digest, received = hashlib.sha256(), 0
    with PeakMemory() as memory, client.stream("GET", f"/bytes/{size}{query}") as answer:
        for chunk in answer.iter_raw():
            digest.update(chunk)
            received += len(chunk)
    assert (received, digest.hexdigest()) == (size, pattern_hash(size))
    assert memory.peak < 16 * MIB
    assert proxy.connections == 1


HAS_SERVER = all(
    importlib.util.find_spec(name) is not None for name in ("syncd.cli.serve", "syncd.cli.admin")
)


@pytest.mark.skipif(not HAS_SERVER, reason="syncd serve / syncd admin not written yet")
def test_against_the_real_server_reset_and_restart_hook(server: ServerProcess) -> None:
    key = server.create_account("proxy")
    with (
        FaultProxy(server.url) as proxy,
        httpx.Client(
            base_url=proxy.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http,
    ):
        workspace = http.post("/api/v1/workspaces", json={"name": "w"}).json()["id"]
        files = f"/api/v1/workspaces/{workspace}/files"
        proxy.add(Fault("reset_request", method="PUT", after_bytes=1000))
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            http.put(f"{files}/cut.bin", content=b"c" * 100_000)
        assert http.get(f"{files}/cut.bin").status_code == 404  # nothing half-written

        assert server.proc is not None
        old_pid = server.proc.pid
        proxy.add(Fault("hook", method="PUT", hook=server.restart))
        assert http.put(f"{files}/after.bin", content=b"r" * 5000).status_code == 204
        assert server.proc is not None and server.proc.pid != old_pid
        assert http.get(f"{files}/after.bin").content == b"r" * 5000
        assert proxy.errors == []
