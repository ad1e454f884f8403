"""Throughput of ``syncd serve`` next to the plainest ASGI app on the same uvicorn.

Prints one table: small-file PUT and GET requests/s (a few concurrent httpx clients) and
large upload/download MB/s, for the real server and for a bare ASGI callable that does the
least possible work (discard the body, answer fixed bytes). The gap is what our own code
costs: auth, SQLite, fsync, hashing, the blob store.

    python bench/server_bench.py                  # 2000 x 4 KiB, 1 GiB
    python bench/server_bench.py --size-mb 64 --count 500
"""

from __future__ import annotations

import argparse
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

from syncd.soak.server import ServerProcess, create_account  # noqa: E402

BLOCK = 1 << 20


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
    count: int, workers: int, one: Callable[[httpx.Client, int], None], url: str, headers: dict
) -> float:
    """Requests per second for ``count`` calls of ``one`` spread over ``workers`` clients."""
    local = threading.local()
    clients: list[httpx.Client] = []

    def call(i: int) -> None:
        if not hasattr(local, "client"):
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


def bench_target(name: str, url: str, headers: dict, prefix: str, args: argparse.Namespace) -> dict:
    payload = b"s" * 4096

    def small_put(client: httpx.Client, i: int) -> None:
        response = client.put(f"{prefix}/small/{i % args.count:05d}.bin", content=payload)
        assert response.status_code == 204, response.text

    def small_get(client: httpx.Client, i: int) -> None:
        response = client.get(f"{prefix}/small/{i % args.count:05d}.bin")
        assert response.status_code == 200 and len(response.content) == 4096

    results = {
        "put": rate(args.count, args.clients, small_put, url, headers),
        "get": rate(args.count, args.clients, small_get, url, headers),
    }
    with httpx.Client(base_url=url, headers=headers, timeout=600) as client:

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

        results["upload"] = throughput(args.size_mb, upload)
        results["download"] = throughput(args.size_mb, download)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="small files (default 2000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (default 4)")
    parser.add_argument("--size-mb", type=int, default=1024, help="large file MiB (default 1024)")
    parser.add_argument("--plain-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_child:
        run_plain()
        return
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        data = Path(tmp) / "data"
        max_body = str(max(args.size_mb * BLOCK, 1 << 20) + 1)
        server = ServerProcess(data, extra_args=["--max-body", max_body])
        server.start()
        try:
            key = create_account(data, "bench")
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=server.url, headers=headers) as client:
                ws = client.post("/api/v1/workspaces", json={"name": "bench"}).json()["id"]
            ours = bench_target(
                "syncd", server.url, headers, f"/api/v1/workspaces/{ws}/files", args
            )
        finally:
            server.stop()
        plain_proc, plain_url = start_plain()
        try:
            plain = bench_target("plain", plain_url, {}, "/f", args)
        finally:
            plain_proc.terminate()
            plain_proc.wait(15)
    rows = [
        (f"PUT {args.count} x 4 KiB, {args.clients} clients", "req/s", "put"),
        (f"GET {args.count} x 4 KiB, {args.clients} clients", "req/s", "get"),
        (f"upload {args.size_mb} MiB (one PUT)", "MB/s", "upload"),
        (f"download {args.size_mb} MiB", "MB/s", "download"),
    ]
    print(f"{'measure':<34} {'unit':<6} {'syncd':>10} {'plain ASGI':>11} {'ratio':>7}")
    for label, unit, key_ in rows:
        ratio = ours[key_] / plain[key_] if plain[key_] else 0.0
        print(f"{label:<34} {unit:<6} {ours[key_]:>10.1f} {plain[key_]:>11.1f} {ratio:>6.0%}")


if __name__ == "__main__":
    main()
