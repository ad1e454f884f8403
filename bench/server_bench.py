"""Throughput of ``syncd serve`` next to the plainest ASGI app on the same uvicorn.

Prints one table: small-file PUT and GET requests/s (a few concurrent httpx clients) and
large upload/download MB/s, for the real server and for a bare ASGI callable that does the
least possible work (discard the body, answer fixed bytes). The gap is what our own code
costs: auth, SQLite, fsync, hashing, the blob store.

The small files are like the shared ``small`` workload: distinct contents of 1-16 KiB
(seeded) in 50 folders, so every PUT stores new bytes, as a real first upload does (equal
contents would share one blob and skip storing and syncing it).

    python bench/server_bench.py                  # 2000 small files, 4 clients; 1 GiB
    python bench/server_bench.py --size-mb 64 --count 500
    python bench/server_bench.py --clients 1,4,16 --size-mb 0 --no-plain   # PUT/GET only
    python bench/server_bench.py --database-url postgresql://USER@HOST/postgres

``--database-url`` names a PostgreSQL cluster: the same figures are then measured, in the
same run, on SQLite, on PostgreSQL with one server process and with ``--processes`` (2)
processes over one data directory and one fresh database on that cluster, the clients
spread over them round-robin (the large transfers go to the first).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from syncd.soak.database import create_database, drop_database  # noqa: E402
from syncd.soak.harness import ServerProcess  # noqa: E402

BLOCK = 1 << 20
CHUNK_MB = 4  # the syncd client's upload chunk


# --- the plainest possible ASGI app ---------------------------------------------------------


async def plain_app(scope, receive, send) -> None:
    """Discard any body; answer GET with 4 KiB, or ``?mb=N`` megabytes streamed."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    if scope["method"] != "GET":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    query = scope.get("query_string", b"").decode()
    megabytes = int(query[3:]) if query.startswith("mb=") else 0
    length = megabytes * BLOCK if megabytes else 4096
    headers = [(b"content-length", str(length).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if not megabytes:
        await send({"type": "http.response.body", "body": b"x" * 4096})
        return
    block = b"x" * BLOCK
    for i in range(megabytes):
        await send({"type": "http.response.body", "body": block, "more_body": i < megabytes - 1})


def run_plain() -> None:
    """Child process: serve ``plain_app`` with the same uvicorn settings as ``syncd serve``."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # as serve
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    config = uvicorn.Config(
        plain_app, http="h11", loop="asyncio", access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    server.run(sockets=[sock])


def start_plain() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--plain-child"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.split("listening on ", 1)[1].strip()


# --- measurements -----------------------------------------------------------------------------


def rate(
    count: int,
    workers: int,
    one: Callable[[httpx.Client, int], None],
    urls: list[str],
    headers: dict,
) -> float:
    """Requests per second for ``count`` calls of ``one`` spread over ``workers`` clients,
    each client on one of ``urls`` in turn."""
    local = threading.local()
    clients: list[httpx.Client] = []
    made = threading.Lock()

    def call(i: int) -> None:
        if not hasattr(local, "client"):
            with made:
                url = urls[len(clients) % len(urls)]
                local.client = httpx.Client(base_url=url, headers=headers, timeout=120)
                clients.append(local.client)
        one(local.client, i)

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(call, range(min(workers * 4, count))))  # warm the connections
        started = time.perf_counter()
        list(pool.map(call, range(count)))
        elapsed = time.perf_counter() - started
    for client in clients:
        client.close()
    return count / elapsed


def blocks(megabytes: int) -> Iterator[bytes]:
    block = bytes(range(256)) * (BLOCK // 256)
    for _ in range(megabytes):
        yield block


def throughput(megabytes: int, action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return megabytes * BLOCK / 1e6 / (time.perf_counter() - started)


def small_files(count: int, seed: int = 1) -> list[tuple[str, bytes]]:
    """(relative path, distinct contents of 1-16 KiB) in 50 folders, the same every run."""
    rng = random.Random(seed)
    return [
        (f"small/d{i % 50:02d}/{i:05d}.bin", rng.randbytes(rng.randint(1 << 10, 16 << 10)))
        for i in range(count)
    ]


def bench_target(
    name: str, urls: list[str], headers: dict, prefix: str, args: argparse.Namespace, clients: int
) -> dict:
    # A fresh tree per client count, so every measured PUT creates a file and a blob.
    files = small_files(args.count, seed=clients)
    top = f"{prefix}/c{clients}"

    def small_put(client: httpx.Client, i: int) -> None:
        path, data = files[i % args.count]
        response = client.put(f"{top}/{path}", content=data)
        assert response.status_code == 204, response.text

    def small_overwrite(client: httpx.Client, i: int) -> None:
        path, data = files[i % args.count]
        response = client.put(f"{top}/{path}", content=data[::-1])  # new bytes, old ones freed
        assert response.status_code == 204, response.text

    def small_get(client: httpx.Client, i: int) -> None:
        path, data = files[i % args.count]
        response = client.get(f"{top}/{path}")
        expected = len(data) if name == "syncd" else 4096  # the plain app answers 4 KiB
        assert response.status_code == 200 and len(response.content) == expected

    results = {
        "put": rate(args.count, clients, small_put, urls, headers),
        "get": rate(args.count, clients, small_get, urls, headers),
        "overwrite": rate(args.count, clients, small_overwrite, urls, headers),
    }
    if not args.size_mb or clients != args.clients[-1]:
        return results
    with httpx.Client(base_url=urls[0], headers=headers, timeout=600) as client:

        def upload() -> None:
            response = client.put(
                f"{prefix}/large.bin",
                content=blocks(args.size_mb),
                headers={"Content-Length": str(args.size_mb * BLOCK)},
            )
            assert response.status_code == 204, response.text

        def download() -> None:
            got = 0
            target = f"{prefix}/large.bin" + ("" if name == "syncd" else f"?mb={args.size_mb}")
            with client.stream("GET", target) as response:
                for chunk in response.iter_raw(BLOCK):
                    got += len(chunk)
            assert got == args.size_mb * BLOCK, got

        def session_upload() -> None:
            """E3 as the syncd client does it: 4 MiB chunks, one after another, then commit."""
            base = prefix.removesuffix("/files") + "/uploads"
            size = args.size_mb * BLOCK
            begun = client.post(base, json={"path": "session.bin", "size": size})
            assert begun.status_code == 201, begun.text
            upload_id = begun.json()["upload_id"]
            for first in range(0, args.size_mb, CHUNK_MB):
                body = b"".join(blocks(min(CHUNK_MB, args.size_mb - first)))
                sent = client.put(f"{base}/{upload_id}?offset={first * BLOCK}", content=body)
                assert sent.status_code == 200, sent.text
            done = client.post(f"{base}/{upload_id}/commit", json={})
            assert done.status_code == 200, done.text

        results["upload"] = throughput(args.size_mb, upload)
        results["download"] = throughput(args.size_mb, download)
        if name == "syncd":  # the plain app has no sessions
            results["session"] = throughput(args.size_mb, session_upload)
    return results


def wake_ms(poll_url: str, write_url: str, headers: dict, ws: str, rounds: int = 21) -> float:
    """Median ms from sending a write to ``write_url`` to the answer of a long poll parked
    on ``poll_url`` (another process when there are several: PostgreSQL's NOTIFY). It
    includes the write's own commit; the poll is woken once that commit is durable."""
    changes = f"/api/v1/workspaces/{ws}/changes"
    waits: list[float] = []
    with (
        httpx.Client(base_url=poll_url, headers=headers, timeout=90) as poller,
        httpx.Client(base_url=poll_url, timeout=10) as metrics,
        httpx.Client(base_url=write_url, headers=headers, timeout=90) as writer,
    ):
        start = 0
        for i in range(rounds):
            while True:  # to the head of the feed, page by page
                page = poller.get(changes, params={"from_revision": start, "limit": 10000})
                start = page.json()["end_revision"]
                if not page.json()["has_more"]:
                    break
            with ThreadPoolExecutor(1) as pool:
                answer = pool.submit(_long_poll, poller, changes, start)
                while not answer.done() and _parked(metrics) < 1:
                    time.sleep(0.001)  # until the server says the poll is parked
                sent = time.perf_counter()
                response = writer.put(f"/api/v1/workspaces/{ws}/files/wake/{i}", content=b"w")
                assert response.status_code == 204, response.text
                waits.append((answer.result(60) - sent) * 1000)
    return sorted(waits)[len(waits) // 2]


def _long_poll(client: httpx.Client, changes: str, start: int) -> float:
    page = client.get(changes, params={"from_revision": start, "wait": 30})
    assert page.json()["end_revision"] > start, page.text
    return time.perf_counter()


def _parked(metrics: httpx.Client) -> float:
    for line in metrics.get("/metrics").text.splitlines():
        if line.startswith("syncd_long_polls_parked"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def measure_syncd(args: argparse.Namespace, database_url: str | None, processes: int) -> dict:
    """Every figure of ``syncd serve``: ``processes`` of them over a fresh data directory
    and, with ``database_url``, that database (its URL in the environment, never in argv)."""
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        data = Path(tmp) / "data"
        max_body = str(max(args.size_mb * BLOCK, 1 << 20) + 1)
        servers: list[ServerProcess] = []
        try:
            for _ in range(max(1, processes)):
                server = ServerProcess(data, ["--max-body", max_body], database_url)
                servers.append(server.start())
            urls = [server.url for server in servers]
            key = servers[0].create_account("bench")
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=urls[0], headers=headers) as client:
                ws = client.post("/api/v1/workspaces", json={"name": "bench"}).json()["id"]
            prefix = f"/api/v1/workspaces/{ws}/files"
            ours: dict[str, float] = {}
            for clients in args.clients:
                ours.update(
                    _keyed(bench_target("syncd", urls, headers, prefix, args, clients), clients)
                )
            ours["wake"] = wake_ms(urls[0], urls[-1], headers, ws)
            return ours
        finally:
            for server in servers:
                server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="small files (default 2000)")
    parser.add_argument(
        "--clients", default="4", help="concurrent clients, or a list: 1,4,16 (default 4)"
    )
    parser.add_argument(
        "--size-mb", type=int, default=1024, help="large file MiB, 0 to skip (default 1024)"
    )
    parser.add_argument("--no-plain", action="store_true", help="measure the syncd server only")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SYNCD_BENCH_DATABASE_URL"),
        help="a PostgreSQL cluster: SQLite, then PostgreSQL with 1 and --processes server "
        "processes, each on a fresh database there (env SYNCD_BENCH_DATABASE_URL)",
    )
    parser.add_argument(
        "--processes", type=int, default=2, help="server processes of the last column (2)"
    )
    parser.add_argument("--plain-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.clients = [int(part) for part in str(args.clients).split(",")]
    if args.plain_child:
        run_plain()
        return
    columns: dict[str, dict[str, float]] = {"sqlite": measure_syncd(args, None, 1)}
    if args.database_url:
        for processes in sorted({1, max(1, args.processes)}):
            url = create_database(args.database_url, processes)
            try:
                columns[f"pg x{processes}"] = measure_syncd(args, url, processes)
            finally:
                drop_database(args.database_url, url)
    plain: dict[str, float] = {}
    if not args.no_plain:
        plain_proc, plain_url = start_plain()
        try:
            for clients in args.clients:
                plain.update(
                    _keyed(bench_target("plain", [plain_url], {}, "/f", args, clients), clients)
                )
        finally:
            plain_proc.terminate()
            plain_proc.wait(15)
    rows = []
    for clients in args.clients:
        rows.append((f"PUT {args.count} x 1-16 KiB, {clients} clients", "req/s", f"put{clients}"))
        rows.append((f"GET {args.count} x 1-16 KiB, {clients} clients", "req/s", f"get{clients}"))
        rows.append((f"PUT over them, {clients} clients", "req/s", f"overwrite{clients}"))
    if args.size_mb:
        rows.append((f"upload {args.size_mb} MiB (one PUT)", "MB/s", "upload"))
        rows.append((f"download {args.size_mb} MiB", "MB/s", "download"))
        rows.append((f"upload {args.size_mb} MiB, {CHUNK_MB} MiB chunks", "MB/s", "session"))
    rows.append(("write sent -> long poll answered (median)", "ms", "wake"))
    head = "".join(f"{name:>10}" for name in columns)
    print(f"{'measure':<38} {'unit':<6}{head} {'plain ASGI':>11} {'ratio':>7}")
    for label, unit, key_ in rows:
        theirs = plain.get(key_)
        first = columns["sqlite"][key_]
        ratio = f"{first / theirs:>6.0%}" if theirs else f"{'-':>6}"
        shown = f"{theirs:>11.1f}" if theirs else f"{'-':>11}"
        figures = "".join(f"{column[key_]:>10.1f}" for column in columns.values())
        print(f"{label:<38} {unit:<6}{figures} {shown} {ratio}")
    print("ratio: the SQLite column over the plain ASGI app; pg xN: N processes, one database")
    print("long poll: parked on the first process, the write sent to the last one")


def _keyed(results: dict[str, float], clients: int) -> dict[str, float]:
    """Small-file rates keyed by client count (``put4``); the large rates as they are."""
    return {
        key if key in ("upload", "download", "session") else f"{key}{clients}": value
        for key, value in results.items()
    }


if __name__ == "__main__":
    main()
