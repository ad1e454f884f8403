#!/usr/bin/env python3
"""Transport throughput: MB/s for one 1 GiB file and files/s for 5,000 small files.

Runs the reference server (``syncd serve``) on loopback and drives ``syncd.transport``:
the large file up (E3 sessions) and down (streamed GET), the small tree up and down with
``--transfers`` in flight through one Client. When ``rclone`` is installed, the same trees
are copied with ``rclone copy`` to and from ``rclone serve webdav`` in the same run, so the
figures compare on this machine today (bench/README of the shared dir explains the anchors).

    python3 bench/transport_bench.py [--only small|large] [--transfers 4] [--quick]

``--quick`` uses 64 MiB and 500 files (a smoke run, not a benchmark).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))

from syncd.soak.harness import ServerProcess, create_account, free_port  # noqa: E402
from syncd.transport import Client, TransportSettings  # noqa: E402

MB = 1_000_000


def make_workload(kind: str, dest: Path, quick: bool) -> list[Path]:
    """The shared seeded workload, or a small stand-in for ``--quick``."""
    if quick:
        dest.mkdir(parents=True)
        if kind == "large":
            with open(dest / "large.bin", "wb") as handle:
                for _ in range(64):
                    handle.write(os.urandom(1024 * 1024))
        else:
            for i in range(500):
                (dest / f"d{i % 10}").mkdir(exist_ok=True)
                (dest / f"d{i % 10}" / f"f{i}.txt").write_bytes(os.urandom(1024 + i * 16))
    else:
        script = SHARED / "bench" / "make_workload.py"
        subprocess.run(
            [sys.executable, str(script), kind, str(dest)], check=True, stdout=subprocess.DEVNULL
        )
    return sorted(p for p in dest.rglob("*") if p.is_file())


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_syncd(
    client: Client, root: Path, files: list[Path], out: Path, transfers: int
) -> tuple[float, float]:
    workspace = client.workspaces.create(f"bench-{root.name}").id
    rels = [p.relative_to(root).as_posix() for p in files]

    def up(i: int) -> None:
        client.files.upload(workspace, rels[i], files[i])

    def down(i: int) -> None:
        target = out / rels[i]
        target.parent.mkdir(parents=True, exist_ok=True)
        client.files.download(workspace, rels[i], target)

    with ThreadPoolExecutor(transfers) as pool:
        up_s = timed(lambda: list(pool.map(up, range(len(files)))))
        down_s = timed(lambda: list(pool.map(down, range(len(files)))))
    return up_s, down_s


def bench_rclone(root: Path, work: Path, transfers: int) -> tuple[float, float] | None:
    rclone = shutil.which("rclone")
    if rclone is None:
        return None
    served = work / f"webdav-{root.name}"
    served.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [rclone, "serve", "webdav", str(served), "--addr", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)  # waiting for an external process to listen, not for a test
        remote = [f"--webdav-url=http://127.0.0.1:{port}", "--transfers", str(transfers), "-q"]
        back = work / f"rclone-back-{root.name}"
        up_s = timed(
            lambda: subprocess.run([rclone, "copy", str(root), ":webdav:", *remote], check=True)
        )
        down_s = timed(
            lambda: subprocess.run([rclone, "copy", ":webdav:", str(back), *remote], check=True)
        )
        return up_s, down_s
    finally:
        proc.terminate()
        proc.wait(10)


def report(kind: str, label: str, seconds: tuple[float, float], nbytes: int, nfiles: int) -> None:
    up_s, down_s = seconds
    if kind == "large":
        print(
            f"{kind:5} {label:22} up {nbytes / MB / up_s:8.1f} MB/s   down {nbytes / MB / down_s:8.1f} MB/s"
            f"   ({up_s:.2f} s / {down_s:.2f} s)"
        )
    else:
        print(
            f"{kind:5} {label:22} up {nfiles / up_s:8.1f} files/s down {nfiles / down_s:8.1f} files/s"
            f" ({up_s:.2f} s / {down_s:.2f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("small", "large"))
    parser.add_argument("--transfers", type=int, default=4)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    kinds = [args.only] if args.only else ["large", "small"]
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        work = Path(tmp)
        with ServerProcess(work / "server") as server:
            key = create_account(server.data_dir, "bench")
            settings = TransportSettings(server.url, key, concurrency=args.transfers)
            with Client(settings) as client:
                for kind in kinds:
                    root = work / kind
                    files = make_workload(kind, root, args.quick)
                    nbytes = sum(p.stat().st_size for p in files)
                    seconds = bench_syncd(
                        client, root, files, work / f"{kind}-back", args.transfers
                    )
                    report(kind, "syncd.transport", seconds, nbytes, len(files))
                    rclone = bench_rclone(root, work, args.transfers)
                    if rclone is None:
                        print(f"{kind:5} rclone/webdav          skipped: rclone is not installed")
                    else:
                        report(kind, "rclone copy / webdav", rclone, nbytes, len(files))


if __name__ == "__main__":
    main()
