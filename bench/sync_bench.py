"""Wall-clock of ``syncd sync`` on the shared workloads, next to curl, nginx and unison.

``small`` (5,000 files) and ``large`` (one 1 GiB file): upload, download by a second client,
no-op re-sync, re-sync after ``make_workload.py modify`` (1%); ``mixed`` (20,000 files):
upload and download; then the no-op sync of a 100,000-file tree. Anchors (bench/anchors.py):
one curl process doing every PUT / GET to nginx, unison local to local, Syncthing folder
to folder (two local instances, bench/syncthing.py) next to syncd's upload plus download;
rclone with ``--rclone``.
Usage and options: bench/README.md.

1. Each syncd phase is a fresh ``python -m syncd sync`` process, as a user runs it, so
   start-up and imports are inside the figure (the ``startup`` line shows how much).
2. Seeding the big tree is not timed and, with ``eatmydata`` installed, pays no fsyncs.
3. ``--profile DIR`` records each syncd phase with py-spy, client and server; profiled
   runs are slower, so their times are not figures.
4. Nothing is deleted until the run ends (``Bench.discard`` moves a finished tree aside):
   on ext4 without a journal, creating a file skips every inode freed in the last 60 s
   (360 s while its inode table block is dirty), one check each, so a phase run right
   after deleting a tree of 5,000 files paid ~30% more for its file creations, and
   whichever of curl or syncd came next paid it. The trees of a run stay on disk until
   its end (``--large-mb 1024 --pairs 3``: ~10 GiB).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import runpy
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import syncthing  # noqa: E402
from bench.anchors import Nginx, Unison, curl_all, installed, precompile_syncd  # noqa: E402
from syncd.soak.harness import (  # noqa: E402
    ServerProcess,
    client_argv,
    create_account,
    create_workspace,
    free_port,
)

MiB = 1 << 20
SPY = ("py-spy", "record", "--idle", "--rate", "100", "--format", "raw", "-o")
WORKLOADS = Path(os.environ.get("SYNCD_WORKLOADS", "/work/shared/bench/make_workload.py"))
PHASES = ("upload", "download", "no-op", "1% changed")


@dataclass
class Row:
    workload: str
    phase: str
    seconds: float
    files: int
    nbytes: int
    rclone: float | None = None
    note: str = ""
    anchors: dict[str, float] = field(default_factory=dict)


@dataclass
class Bench:
    args: argparse.Namespace
    tmp: Path
    workloads: SimpleNamespace
    rows: list[Row] = field(default_factory=list)
    server: ServerProcess | None = None
    key: str = ""

    def sync(self, workspace: str, folder: Path, state: Path, label: str) -> float:
        """Time one ``syncd sync`` process; fail loudly unless it exits 0."""
        assert self.server is not None
        cmd = client_argv("sync", self.server.url, workspace, folder, state)
        env = {**os.environ, "SYNCD_API_KEY": self.key}
        spy = None
        if self.args.profile:
            out = self.args.profile / f"{label}-client.txt"
            cmd = [*SPY, str(out), "--", *cmd]
            spy = attach_spy(self.server, self.args.profile / f"{label}-server.txt")
        started = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=7200)
        elapsed = time.perf_counter() - started
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(60)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.splitlines()[-15:])
            raise SystemExit(f"syncd sync ({label}) exited {proc.returncode}:\n{tail}")
        print(f"syncd {label}: {elapsed:.2f} s", flush=True)
        return elapsed

    def discard(self, path: Path) -> None:
        """Move a finished tree out of the way, deleted when the run ends (promise 4)."""
        if path.exists():
            graveyard = self.tmp / "discarded"
            graveyard.mkdir(exist_ok=True)
            path.rename(graveyard / f"{len(list(graveyard.iterdir()))}-{path.name}")

    def workload(self, kind: str, count: int, size_mb: int) -> None:
        """The syncd phases on one freshly built tree, each next to its anchors."""
        tree = self.tmp / kind / "a"
        files, nbytes = build(self.workloads, kind, tree, count, size_mb)
        paths = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file())
        anchors: dict[str, dict[str, float]] = {phase: {} for phase in PHASES}
        unison = None
        if installed("nginx", "curl"):
            nginx = Nginx(self.tmp / kind)
            try:
                put = curl_all(nginx, tree, paths, upload=True, dest=nginx.root)
                got = self.tmp / kind / "curl-down"
                anchors["upload"]["curl PUT"] = put
                anchors["download"]["curl GET"] = curl_all(
                    nginx, tree, paths, upload=False, dest=got
                )
                print(f"curl {kind}: PUT {put:.2f} s, GET {anchors['download']['curl GET']:.2f} s")
            finally:
                nginx.close()
                self.discard(self.tmp / kind / "nginx")
                self.discard(self.tmp / kind / "curl-down")
        if installed("unison") and kind != "mixed":
            unison = Unison(self.tmp / kind, tree)
            anchors["upload"]["unison"] = unison.run()
            anchors["no-op"]["unison"] = unison.run()
            print(
                f"unison {kind}: first {anchors['upload']['unison']:.2f} s, "
                f"no-op {anchors['no-op']['unison']:.2f} s",
                flush=True,
            )
        rclone = self.rclone(kind, tree) if self.args.rclone else {}
        workspace = create_workspace(self.server, self.key, kind)
        state_a, state_b = self.tmp / kind / "state-a", self.tmp / kind / "state-b"
        other = self.tmp / kind / "b"
        other.mkdir()
        up = self.sync(workspace, tree, state_a, f"{kind}-upload")
        down = self.sync(workspace, other, state_b, f"{kind}-download")
        phases = [("upload", up, files, nbytes), ("download", down, files, nbytes)]
        if kind != "mixed":
            noop = self.sync(workspace, tree, state_a, f"{kind}-noop")
            chosen = modify(self.workloads, tree)
            changed_bytes = sum((tree / p).stat().st_size for p in chosen)
            mod = self.sync(workspace, tree, state_a, f"{kind}-modified")
            if unison is not None:
                anchors["1% changed"]["unison"] = unison.run()
            phases += [("no-op", noop, files, 0), ("1% changed", mod, len(chosen), changed_bytes)]
        for phase, seconds, n, b in phases:
            self.rows.append(
                Row(kind, phase, seconds, n, b, rclone.get(phase), anchors=anchors[phase])
            )
        if self.args.pairs > 1 and installed("nginx", "curl"):
            self.pairs(kind, tree, paths, files, nbytes)
        if not self.args.no_syncthing and syncthing.installed():
            # Syncthing moves a tree from one folder to another directly: next to it, what
            # syncd needs for the same (one client up, the other down, through the server).
            moved = syncthing.transfer_seconds(self.tmp / kind / "syncthing", tree)
            print(f"syncthing {kind}: folder to folder {moved:.2f} s", flush=True)
            row = Row(kind, "up + down", up + down, files, nbytes)
            row.anchors["syncthing a->b"] = moved
            self.rows.append(row)
        self.discard(self.tmp / kind)

    def pairs(self, kind: str, tree: Path, paths: list[str], files: int, nbytes: int) -> None:
        """``--pairs N``: curl and syncd in turn, N times, each pair in the same moment.

        One run of each is at the mercy of what the machine does meanwhile (page cache,
        other load): for a 1 GiB file the same curl GET varies 2x between runs. Each pair
        is a curl PUT then a syncd upload into a fresh workspace, a curl GET then a syncd
        download of it into a fresh folder; the rows give the medians and each pair's ratio.
        """
        ups: list[tuple[float, float]] = []
        downs: list[tuple[float, float]] = []
        base = self.tmp / kind / "pairs"
        for n in range(self.args.pairs):
            nginx = Nginx(base / f"n{n}")
            try:
                put = curl_all(nginx, tree, paths, upload=True, dest=nginx.root)
                workspace = create_workspace(self.server, self.key, f"{kind}-pair-{n}")
                up = self.sync(workspace, tree, base / f"state-up-{n}", f"{kind}-pair-upload")
                got = curl_all(nginx, tree, paths, upload=False, dest=base / f"curl-{n}")
                other = base / f"down-{n}"
                other.mkdir()
                state = base / f"state-down-{n}"
                down = self.sync(workspace, other, state, f"{kind}-pair-download")
            finally:
                nginx.close()
            ups.append((up, put))
            downs.append((down, got))
            self.discard(base)
        for phase, runs, anchor in (("upload", ups, "curl PUT"), ("download", downs, "curl GET")):
            seconds = statistics.median(syncd for syncd, _ in runs)
            row = Row(kind, f"{phase} x{len(runs)}", seconds, files, nbytes)
            row.anchors[anchor] = statistics.median(curl for _, curl in runs)
            row.note = "medians; pair by pair " + " ".join(f"{a / b:.1f}x" for a, b in runs)
            self.rows.append(row)

    def tree(self, count: int) -> None:
        """No-op sync of a big tree of tiny files; the seeding is not timed."""
        tree = self.tmp / "tree" / "a"
        paths = build_tiny(tree, count)
        data = self.tmp / "tree-server"
        fast = any(os.path.exists(p) for p in EATMYDATA)
        with no_fsync():  # seeding only: the timed syncs below run normally
            seed = ServerProcess(data).start()
            key = create_account(data, "tree")
            workspace = create_workspace(seed, key, "tree")
            put_all(seed.url, key, workspace, tree, paths)
            seed.stop()
        self.server, self.key = ServerProcess(data).start(), key  # the main one has stopped
        try:
            state = self.tmp / "tree" / "state"
            merge = self.sync(workspace, tree, state, "tree-merge")
            noop = self.sync(workspace, tree, state, "tree-noop")
        finally:
            self.server.stop()
        note = "first sync: merge of equal trees" + (" (seeded with eatmydata)" if fast else "")
        self.rows.append(Row("tree", "merge (equal)", merge, count, 0, note=note))
        self.rows.append(Row("tree", "no-op", noop, count, 0))
        self.discard(self.tmp / "tree")

    def rclone(self, kind: str, tree: Path) -> dict[str, float]:
        """copy up, copy down, bisync no-op and 1% changed over ``rclone serve webdav``."""
        base = self.tmp / kind / "rclone"
        served, down, work = base / "served", base / "down", base / "work"
        for d in (served, work):
            d.mkdir(parents=True)
        port = free_port()
        conf = base / "rclone.conf"
        conf.write_text(
            f"[dav]\ntype = webdav\nurl = http://127.0.0.1:{port}/\nvendor = owncloud\n"
        )
        serve = subprocess.Popen(
            ["rclone", "serve", "webdav", str(served), "--addr", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(port)

            def run(label: str, *argv: str) -> float:
                started = time.perf_counter()
                cmd = ["rclone", "--config", str(conf), *argv]
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
                if proc.returncode != 0:
                    raise SystemExit(f"rclone {argv[0]} exited {proc.returncode}:\n{proc.stderr}")
                elapsed = time.perf_counter() - started
                print(f"rclone {kind}-{label}: {elapsed:.2f} s", flush=True)
                return elapsed

            result = {
                "upload": run("copy-up", "copy", str(tree), "dav:t"),
                "download": run("copy-down", "copy", "dav:t", str(down)),
            }
            bisync = ["bisync", str(down), "dav:t", "--workdir", str(work)]
            run("bisync-resync", *bisync, "--resync")
            result["no-op"] = run("bisync-noop", *bisync)
            self.workloads.modify_tree(str(down))
            # --force: for ``large`` one changed file of one is "all files changed"
            result["1% changed"] = run("bisync-modified", *bisync, "--force")
            return result
        finally:
            serve.terminate()
            serve.wait(30)
            self.discard(base)


def load_workloads(path: Path) -> SimpleNamespace:
    """The shared generator's functions (``plan``, ``modify_tree``, ``FIXED_MTIME``...)."""
    return SimpleNamespace(**runpy.run_path(str(path)))


def build(
    workloads: SimpleNamespace, kind: str, dest: Path, count: int, size_mb: int
) -> tuple[int, int]:
    """The standard tree, or its first ``count`` files / a ``size_mb`` large file when shrunk.

    Contents follow the generator's own seeding, so a shrunk tree is a prefix of the full one.
    """
    files = workloads.plan(kind, 42)
    files = [(files[0][0], size_mb * MiB)] if kind == "large" else files[:count]
    dest.mkdir(parents=True)
    for i, (rel, size) in enumerate(files):
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = workloads.random.Random(f"{kind}-42-{i}")
        with open(path, "wb") as handle:
            left = size
            while left:
                n = min(8 * MiB, left)
                handle.write(rng.randbytes(n))
                left -= n
        os.utime(path, (workloads.FIXED_MTIME + i, workloads.FIXED_MTIME + i))
    return len(files), sum(size for _, size in files)


def modify(workloads: SimpleNamespace, tree: Path) -> list[str]:
    """``make_workload.py modify`` on the user's files only, so the same 1% as rclone's.

    The folder marker is set aside meanwhile: the generator walks every file, and a
    rewritten marker would make the folder look replaced.
    """
    aside = tree.parent / (tree.name + ".aside")
    aside.mkdir()
    markers = [p.name for p in tree.iterdir() if p.name.startswith(".syncd-")]
    for name in markers:
        os.rename(tree / name, aside / name)
    try:
        return workloads.modify_tree(str(tree))
    finally:
        for name in markers:
            os.rename(aside / name, tree / name)
        aside.rmdir()


def build_tiny(dest: Path, count: int) -> list[str]:
    """``count`` files of 32 bytes in 1,000 folders: metadata cost, no transfer cost."""
    paths = []
    for i in range(count):
        rel = f"d{i % 1000:03d}/f{i:06d}.txt"
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"{i:031d}\n".encode())
        paths.append(rel)
    return paths


def put_all(url: str, key: str, workspace: str, tree: Path, paths: list[str]) -> None:
    """Seed the server with raw PUTs from 8 threads (one pooled client each)."""
    headers = {"Authorization": f"Bearer {key}"}
    chunks = [paths[i::8] for i in range(8)]

    def put(part: list[str]) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            for rel in part:
                answer = http.put(
                    f"/api/v1/workspaces/{workspace}/files/{rel}", content=(tree / rel).read_bytes()
                )
                answer.raise_for_status()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, chunks))


EATMYDATA = ("/usr/lib/x86_64-linux-gnu/libeatmydata.so", "/usr/lib/libeatmydata.so")


def no_fsync() -> contextlib.AbstractContextManager[dict]:
    """Preload libeatmydata into the processes started inside (fsync becomes a no-op)."""
    lib = next((p for p in EATMYDATA if os.path.exists(p)), None)
    return mock.patch.dict(os.environ, {"LD_PRELOAD": lib} if lib else {})


def attach_spy(server: ServerProcess, out: Path) -> subprocess.Popen:
    """py-spy on the running server until SIGINT; it writes ``out`` as it exits."""
    assert server.proc is not None
    cmd = [*SPY, str(out), "--pid", str(server.proc.pid)]
    spy = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    attached = threading.Event()

    def watch() -> None:  # py-spy says "Sampling process ..." once it is attached
        assert spy.stdout is not None
        for line in spy.stdout:
            if "Sampling" in line:
                attached.set()

    threading.Thread(target=watch, daemon=True).start()
    attached.wait(10)
    return spy


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.05)  # poll with a deadline: nothing to wait on but the port
    raise SystemExit(f"rclone serve webdav did not listen on {port}")


def startup_seconds() -> float:
    """``python -m syncd --help``: the floor under every sync process (best of 3)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "syncd", "sync", "--help"], capture_output=True, check=True
        )
        best = min(best, time.perf_counter() - started)
    return best


def rate(row: Row, seconds: float | None) -> str:
    if seconds is None or seconds <= 0:
        return ""
    if row.files and row.nbytes / row.files >= MiB:
        return f"{row.nbytes / 1e6 / seconds:.0f} MB/s"
    per_second = row.files / seconds
    return f"{per_second:.0f} files/s" if per_second >= 10 else f"{per_second:.2f} files/s"


def ratio(row: Row, name: str, seconds: float) -> str:
    """``anchor s (syncd/anchor x)``; a no-op next to unison also shows the difference."""
    text = f"{name} {seconds:.2f} s ({row.seconds / seconds:.1f}x" if seconds > 0 else name
    if row.phase == "no-op":
        text += f", {row.seconds - seconds:+.2f} s"
    return text + ")"


def print_table(rows: list[Row], startup: float) -> None:
    head = f"{'workload':<9} {'phase':<14} {'files':>7} {'MB':>7} {'syncd s':>8} {'syncd rate':>12}  anchors (syncd/anchor)"
    print("\n" + head + "\n" + "-" * len(head))
    for row in rows:
        anchors = [ratio(row, name, sec) for name, sec in row.anchors.items()]
        if row.rclone is not None:
            anchors.append(ratio(row, "rclone", row.rclone))
        print(
            f"{row.workload:<9} {row.phase:<14} {row.files:>7} {row.nbytes / 1e6:>7.1f} "
            f"{row.seconds:>8.2f} {rate(row, row.seconds):>12}  "
            + "; ".join(anchors)
            + (f"  {row.note}" if row.note else "")
        )
    print(f"startup   python -m syncd sync --help: {startup:.2f} s (inside every syncd figure)")
    print("curl: ONE curl process does every PUT / GET of a tree in sequence (--config file),")
    print("      one kept-alive connection to nginx on loopback; process start-up is paid once.")
    print("unison: local to local (tree against a hub folder); first run next to upload.")
    print("syncthing: two local instances; a tree renamed into one folder until the other")
    print("      holds all of it (scan, hash, transfer, write), next to syncd up + down.")


IDLE = ("Condition.wait", "EpollSelector.select", "Queue.get", "_worker (concurrent")


def summarize_profiles(folder: Path, top: int = 12) -> None:
    """Self time per frame of each recorded phase; idle waits of pool threads set apart."""
    for path in sorted(folder.glob("*.txt")):
        self_time: collections.Counter[str] = collections.Counter()
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            if n.isdigit():
                self_time[stack.split(";")[-1]] += int(n)
        idle = sum(n for f, n in self_time.items() if f.startswith(IDLE))
        busy = sum(self_time.values()) - idle or 1
        print(f"\n== {path.name}: {busy} busy samples ({idle} idle-thread samples left out)")
        ranked = [(f, n) for f, n in self_time.most_common() if not f.startswith(IDLE)]
        for frame, n in ranked[:top]:
            print(f"{100 * n / busy:5.1f}% {frame[:110]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workloads", default="small,large,mixed,tree", help="comma list of small,large,mixed,tree"
    )
    parser.add_argument("--quick", action="store_true", help="reduced sizes, for development")
    parser.add_argument("--small-files", type=int, help="default 5000 (500 with --quick)")
    parser.add_argument("--large-mb", type=int, help="default 1024 MiB (64 with --quick)")
    parser.add_argument("--mixed-files", type=int, help="default 20000 (1000 with --quick)")
    parser.add_argument("--tree-files", type=int, help="default 100000 (10000 with --quick)")
    parser.add_argument("--rclone", action="store_true", help="add rclone over WebDAV")
    parser.add_argument(
        "--no-syncthing",
        action="store_true",
        help="skip Syncthing (two local instances, one folder to the other)",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=1,
        help="also run N pairs of curl then syncd, upload and download, and print medians",
    )
    parser.add_argument("--profile", type=Path, help="record py-spy profiles into this folder")
    parser.add_argument("--generator", type=Path, default=WORKLOADS, help="make_workload.py")
    parser.add_argument("--tmp", type=Path, help="work folder (default: a temp dir)")
    args = parser.parse_args()
    precompile_syncd()
    only = set(args.workloads.split(","))
    q = args.quick
    args.small_files = args.small_files or (500 if q else 5000)
    args.large_mb = args.large_mb or (64 if q else 1024)
    args.mixed_files = args.mixed_files or (1000 if q else 20_000)
    args.tree_files = args.tree_files or (10_000 if q else 100_000)
    if args.rclone and not shutil.which("rclone"):
        print("note: rclone not installed (apt-get install -y rclone): rclone columns skipped")
        args.rclone = False
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    if args.tmp:
        Path(args.tmp).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="syncd-sync-bench-", dir=args.tmp) as tmp:
        bench = Bench(args, Path(tmp), load_workloads(args.generator))
        bench.server = ServerProcess(Path(tmp) / "server").start()
        try:
            bench.key = create_account(bench.server.data_dir, "bench")
            if "small" in only:
                bench.workload("small", args.small_files, 0)
            if "large" in only:
                bench.workload("large", 1, args.large_mb)
            if "mixed" in only:
                bench.workload("mixed", args.mixed_files, 0)
        finally:
            bench.server.stop()
        if "tree" in only:
            bench.tree(args.tree_files)
        print_table(bench.rows, startup_seconds())
    if args.profile:
        summarize_profiles(args.profile)


if __name__ == "__main__":
    main()
