"""What the daemon costs and how fast it is: propagation latency, idle CPU, RSS at scale.

Prints, for ``syncd run`` on this machine:

1. change-propagation latency client A -> server -> client B (p50, p99) over N small
   changes, measured from the write in A's folder to the new bytes in B's folder: first
   with the daemons' default settings (the headline), then with a 0.05 s debounce; each
   change is written once the previous one arrived, and then (``--paced``) saves are
   written every ``PACE`` seconds whatever arrived, as a "save all" or a script does:
   faster than one debounce window holds, so a rule that took quick saves for a burst
   shows here on any machine, busy or not;
2. the CPU time (user + system) an idle daemon uses over S seconds;
3. the RSS of a daemon once it indexed (scanned, uploaded, recorded) F files, and the
   time and RSS of a restart over that indexed tree (the steady state after a reboot);
4. next to it, Syncthing's propagation latency between two local instances when Debian's
   ``syncthing`` is installed (``apt-get install syncthing``), with its default 10 s
   watcher delay (at most 10 changes) and with 1 s; skipped with a note otherwise.

    python bench/daemon_bench.py                       # 200 changes, 60 s idle, 100,000 files
    python bench/daemon_bench.py --changes 50 --idle 10 --files 5000 --no-syncthing
    python bench/daemon_bench.py --changes 50 --latency-only   # latency lines only
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.anchors import precompile_syncd  # noqa: E402
from bench.syncthing import syncthing_pair  # noqa: E402
from syncd.soak.harness import (  # noqa: E402
    DaemonProcess,
    ServerProcess,
    create_workspace,
    wait_until,
)

RESOLUTION = 0.002  # the poll interval of a latency measurement
PACE = 0.05  # seconds between two paced saves


@dataclass
class BenchDaemon(DaemonProcess):
    """``syncd run`` with its default settings; its stderr is drained so it never blocks."""

    ENV: ClassVar[dict[str, str]] = {"SYNCD_LOG_LEVEL": "info", "PYTHONUNBUFFERED": "1"}

    def start(self, *args: str) -> BenchDaemon:
        self.folder.mkdir(parents=True, exist_ok=True)
        super().start(*args)
        return self

    def wait_ready(self, timeout: float = 3600) -> None:
        self.wait_for("event=remote", timeout=timeout)

    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid()}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid()}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")


@dataclass
class TunedDaemon(BenchDaemon):
    """``syncd run`` with a short debounce: the second, tuned latency line."""

    ENV: ClassVar[dict[str, str]] = {**BenchDaemon.ENV, "SYNCD_DEBOUNCE": "0.05"}


def pair_latencies(
    kind: type[BenchDaemon],
    server: ServerProcess,
    key: str,
    work: Path,
    changes: int,
    paced: int = 0,
) -> tuple[list[float], list[float], BenchDaemon, BenchDaemon]:
    """Two daemons of ``kind`` on a new workspace; the latencies of ``changes`` writes,
    each after the previous one arrived, then of ``paced`` saves every ``PACE`` seconds."""
    workspace = create_workspace(server, key, name=f"lat-{kind.__name__.lower()}")
    a = kind(server, key, workspace, work / "a", work / "state-a").start()
    b = kind(server, key, workspace, work / "b", work / "state-b").start()
    try:
        a.wait_ready()
        b.wait_ready()
        one_by_one = measure_latency(a.folder, b.folder, changes)
        return one_by_one, measure_paced(a.folder, b.folder, paced), a, b
    except BaseException:
        a.stop(timeout=30)
        b.stop(timeout=30)
        raise


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure_latency(a: Path, b: Path, changes: int) -> list[float]:
    """Write a small file in ``a``; time until ``b`` holds the same bytes. Seconds each."""
    latencies = []
    for i in range(changes):
        name = f"lat/{i % 20}.txt"
        data = f"change {i} {time.time_ns()}\n".encode()
        target = b / name
        (a / name).parent.mkdir(exist_ok=True)
        started = time.perf_counter()
        (a / name).write_bytes(data)

        def arrived(target: Path = target, data: bytes = data) -> bool:
            try:
                return target.read_bytes() == data
            except OSError:
                return False

        if not wait_until(arrived, 60, RESOLUTION):
            raise RuntimeError(f"change {i} did not arrive within 60 s")
        latencies.append(time.perf_counter() - started)
    return latencies


def measure_paced(a: Path, b: Path, changes: int, files: int = 20) -> list[float]:
    """Save a small file in ``a`` every ``PACE`` seconds, cycling over ``files`` names;
    each save's time until ``b`` holds it or a later save of the same file. Seconds each.
    """
    started: list[float] = []
    latencies: dict[int, float] = {}
    (a / "paced").mkdir(exist_ok=True)

    def look() -> None:
        now = time.perf_counter()
        for name in range(files):
            waiting = [i for i in range(name, len(started), files) if i not in latencies]
            if not waiting:
                continue
            try:
                held = int((b / "paced" / f"{name}.txt").read_bytes().split()[1])
            except (OSError, IndexError, ValueError):
                continue
            for i in waiting:
                if i <= held:
                    latencies[i] = now - started[i]

    t0 = time.perf_counter()
    for i in range(changes):
        while time.perf_counter() < t0 + i * PACE:
            look()
            time.sleep(RESOLUTION)  # the poll interval of the measurement
        started.append(time.perf_counter())
        (a / "paced" / f"{i % files}.txt").write_bytes(f"change {i} {time.time_ns()}\n".encode())
    if not wait_until(lambda: look() or len(latencies) == changes, 60, RESOLUTION):
        raise RuntimeError(f"{changes - len(latencies)} paced saves did not arrive within 60 s")
    return [latencies[i] for i in range(changes)]


def make_tree(folder: Path, count: int) -> None:
    for i in range(count):
        sub = folder / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:06d}.txt").write_bytes(b"x%d\n" % i)


def index_rows(
    server: ServerProcess, key: str, work: Path, files: int, rows: list[tuple[str, str]]
) -> None:
    """RSS and time of a first sync over ``files`` files, and of a restart over them."""
    big_ws = create_workspace(server, key, name="big")
    make_tree(work / "big", files)
    started = time.monotonic()
    c = BenchDaemon(server, key, big_ws, work / "big", work / "state-big").start()
    try:
        c.wait_ready()
        took = time.monotonic() - started
        rows.append((f"RSS after indexing {files} files", f"{c.rss_mib():.0f} MiB"))
        rate = files / took if took else 0.0
        rows.append((f"first sync of {files} files", f"{took:.1f} s ({rate:.0f}/s)"))
    finally:
        c.stop(timeout=30)
    # The steady state after a reboot: the same tree, already indexed.
    started = time.monotonic()
    c = BenchDaemon(server, key, big_ws, work / "big", work / "state-big").start()
    try:
        c.wait_ready()
        took = time.monotonic() - started
        rows.append((f"restart over {files} indexed files", f"{took:.1f} s"))
        rows.append(("RSS after that restart", f"{c.rss_mib():.0f} MiB"))
    finally:
        c.stop(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds to measure")
    parser.add_argument("--files", type=int, default=100_000, help="files to index for RSS")
    parser.add_argument("--paced", type=int, default=100, help=f"saves every {PACE} s (0: none)")
    parser.add_argument("--no-syncthing", action="store_true")
    parser.add_argument(
        "--latency-only", action="store_true", help="skip the idle CPU and the RSS figures"
    )
    args = parser.parse_args()
    precompile_syncd()
    work = Path(tempfile.mkdtemp(prefix="syncd-daemon-bench-"))
    rows: list[tuple[str, str]] = []
    try:
        with ServerProcess(work / "server") as server:
            key = server.create_account("bench")
            tuned, tuned_paced, ta, tb = pair_latencies(
                TunedDaemon, server, key, work / "tuned", args.changes, args.paced
            )
            ta.stop(timeout=30)
            tb.stop(timeout=30)
            lat, paced, a, b = pair_latencies(
                BenchDaemon, server, key, work / "default", args.changes, args.paced
            )
            try:
                n = len(lat)
                rows.append((f"syncd latency A->B p50 ({n} changes, defaults)", _ms(lat, 0.5)))
                rows.append((f"syncd latency A->B p99 ({n} changes, defaults)", _ms(lat, 0.99)))
                n = len(tuned)
                rows.append((f"syncd latency p50 ({n}, debounce 0.05 s)", _ms(tuned, 0.5)))
                rows.append((f"syncd latency p99 ({n}, debounce 0.05 s)", _ms(tuned, 0.99)))
                every = f"a save every {PACE * 1000:.0f} ms"
                for values, label in ((paced, "defaults"), (tuned_paced, "debounce 0.05 s")):
                    if values:
                        n = len(values)
                        for q, name in ((0.5, "p50"), (0.99, "p99")):
                            row = f"syncd latency {name}, {every} ({n}, {label})"
                            rows.append((row, _ms(values, q)))
                if not args.latency_only:
                    time.sleep(1.0)  # let the last echo settle before the idle window
                    before = a.cpu_seconds()
                    time.sleep(args.idle)  # the idle window being measured
                    used = a.cpu_seconds() - before
                    rows.append((f"idle daemon CPU over {args.idle:.0f} s", f"{used:.3f} s"))
            finally:
                a.stop(timeout=30)
                b.stop(timeout=30)
            if not args.latency_only:
                index_rows(server, key, work, args.files, rows)
        if args.no_syncthing:
            rows.append(("syncthing latency", "skipped (--no-syncthing)"))
        elif shutil.which("syncthing") is None:
            rows.append(("syncthing latency", "skipped: not installed (apt-get install syncthing)"))
        else:
            for delay, label in ((10, "default 10 s watcher delay"), (1, "1 s watcher delay")):
                count = min(args.changes, 10) if delay == 10 else args.changes
                try:
                    with syncthing_pair(work / f"syncthing-{delay}", delay=delay) as pair:
                        lat = measure_latency(pair.a, pair.b, count)
                except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                    rows.append((f"syncthing latency ({label})", f"skipped: {exc}"))
                else:
                    n = len(lat)
                    rows.append((f"syncthing latency p50 ({n}, {label})", _ms(lat, 0.5)))
                    rows.append((f"syncthing latency p99 ({n}, {label})", _ms(lat, 0.99)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f} ms (mean {statistics.mean(values) * 1000:.0f})"


if __name__ == "__main__":
    main()
