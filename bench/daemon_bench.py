"""What the daemon costs and how fast it is: propagation latency, idle CPU, RSS at scale.

Prints, for ``syncd run`` on this machine:

1. change-propagation latency client A -> server -> client B (p50, p99) over N small
   changes, measured from the write in A's folder to the new bytes in B's folder;
2. the CPU time (user + system) an idle daemon uses over S seconds;
3. the RSS of a daemon once it indexed (scanned, uploaded, recorded) F files, and the
   time and RSS of a restart over that indexed tree (the steady state after a reboot);
4. next to it, Syncthing's propagation latency between two local instances when Debian's
   ``syncthing`` is installed (``apt-get install syncthing``); skipped with a note otherwise.

    python bench/daemon_bench.py                       # 200 changes, 60 s idle, 100,000 files
    python bench/daemon_bench.py --changes 50 --idle 10 --files 5000 --no-syncthing
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from syncd.soak.harness import (  # noqa: E402
    DaemonProcess,
    ServerProcess,
    create_workspace,
    free_port,
    wait_until,
)

RESOLUTION = 0.002  # the poll interval of a latency measurement


@dataclass
class BenchDaemon(DaemonProcess):
    """``syncd run`` with a short debounce; its stderr is drained so it never blocks."""

    ENV: ClassVar[dict[str, str]] = {
        "SYNCD_DEBOUNCE": "0.05",
        "SYNCD_LOG_LEVEL": "info",
        "PYTHONUNBUFFERED": "1",
    }

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


def make_tree(folder: Path, count: int) -> None:
    for i in range(count):
        sub = folder / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:06d}.txt").write_bytes(b"x%d\n" % i)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds to measure")
    parser.add_argument("--files", type=int, default=100_000, help="files to index for RSS")
    parser.add_argument("--no-syncthing", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="syncd-daemon-bench-"))
    rows: list[tuple[str, str]] = []
    try:
        with ServerProcess(work / "server") as server:
            key = server.create_account("bench")
            workspace = create_workspace(server, key)
            a = BenchDaemon(server, key, workspace, work / "a", work / "state-a").start()
            b = BenchDaemon(server, key, workspace, work / "b", work / "state-b").start()
            try:
                a.wait_ready()
                b.wait_ready()
                lat = measure_latency(a.folder, b.folder, args.changes)
                rows.append((f"syncd latency A->B p50 ({len(lat)} changes)", _ms(lat, 0.5)))
                rows.append((f"syncd latency A->B p99 ({len(lat)} changes)", _ms(lat, 0.99)))
                time.sleep(1.0)  # let the last echo settle before the idle window
                before = a.cpu_seconds()
                time.sleep(args.idle)  # the idle window being measured
                used = a.cpu_seconds() - before
                rows.append((f"idle daemon CPU over {args.idle:.0f} s", f"{used:.3f} s"))
            finally:
                a.stop(timeout=30)
                b.stop(timeout=30)
            big_ws = create_workspace(server, key, name="big")
            make_tree(work / "big", args.files)
            started = time.monotonic()
            c = BenchDaemon(server, key, big_ws, work / "big", work / "state-big").start()
            try:
                c.wait_ready()
                took = time.monotonic() - started
                rows.append((f"RSS after indexing {args.files} files", f"{c.rss_mib():.0f} MiB"))
                rate = args.files / took if took else 0.0
                rows.append((f"first sync of {args.files} files", f"{took:.1f} s ({rate:.0f}/s)"))
            finally:
                c.stop(timeout=30)
            # The steady state after a reboot: the same tree, already indexed.
            started = time.monotonic()
            c = BenchDaemon(server, key, big_ws, work / "big", work / "state-big").start()
            try:
                c.wait_ready()
                took = time.monotonic() - started
                rows.append((f"restart over {args.files} indexed files", f"{took:.1f} s"))
                rows.append(("RSS after that restart", f"{c.rss_mib():.0f} MiB"))
            finally:
                c.stop(timeout=30)
        if args.no_syncthing:
            rows.append(("syncthing latency", "skipped (--no-syncthing)"))
        elif shutil.which("syncthing") is None:
            rows.append(("syncthing latency", "skipped: not installed (apt-get install syncthing)"))
        else:
            try:
                lat = syncthing_latencies(work / "syncthing", args.changes, measure_latency)
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                rows.append(("syncthing latency", f"skipped: {exc}"))
            else:
                rows.append((f"syncthing latency p50 ({len(lat)} changes)", _ms(lat, 0.5)))
                rows.append((f"syncthing latency p99 ({len(lat)} changes)", _ms(lat, 0.99)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


# -- Syncthing: two local instances sharing one folder ------------------------------------
# Each instance gets its own home (keys from ``syncthing generate``) and a config that knows
# only the other one on 127.0.0.1 (no discovery, relays, NAT or usage reporting); the file
# watcher is on with fsWatcherDelayS 1 s (its default is 10 s), so both tools are measured
# at their quickest sensible setting.

CONFIG = """<configuration version="36">
  <folder id="bench" label="bench" path="{folder}" type="sendreceive" rescanIntervalS="3600"
          fsWatcherEnabled="true" fsWatcherDelayS="1">
    <device id="{me}"></device>
    <device id="{peer}"></device>
  </folder>
  <device id="{me}" name="self" compression="never"><address>dynamic</address></device>
  <device id="{peer}" name="peer" compression="never">
    <address>tcp://127.0.0.1:{peer_port}</address>
  </device>
  <gui enabled="true" tls="false"><address>127.0.0.1:{gui_port}</address>
    <apikey>{api_key}</apikey></gui>
  <options>
    <listenAddress>tcp://127.0.0.1:{port}</listenAddress>
    <globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled>
    <relaysEnabled>false</relaysEnabled>
    <natEnabled>false</natEnabled>
    <urAccepted>-1</urAccepted>
    <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <crashReportingEnabled>false</crashReportingEnabled>
    <startBrowser>false</startBrowser>
  </options>
</configuration>
"""


SERVE = ("syncthing", "serve", "--no-browser", "--no-restart", "--no-upgrade")


def generate(home: Path) -> str:
    out = subprocess.run(
        ["syncthing", "generate", f"--home={home}", "--no-default-folder"],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Device ID: (\S+)", out.stdout + out.stderr)
    if not match:
        raise RuntimeError("syncthing generate printed no device id")
    return match.group(1)


def syncthing_latencies(
    work: Path, changes: int, measure: Callable[[Path, Path, int], list[float]]
) -> list[float]:
    """Start the pair, wait until they are connected, and run ``measure(a, b, changes)``."""
    names = ("a", "b")
    homes = {n: work / f"home-{n}" for n in names}
    folders = {n: work / f"folder-{n}" for n in names}
    ids = {n: generate(homes[n]) for n in names}
    ports = {n: free_port() for n in names}
    guis = {n: free_port() for n in names}
    key = secrets.token_hex(16)
    procs = []
    try:
        for me, peer in (("a", "b"), ("b", "a")):
            folders[me].mkdir(parents=True)
            (folders[me] / ".stfolder").mkdir()
            (homes[me] / "config.xml").write_text(
                CONFIG.format(
                    folder=folders[me],
                    me=ids[me],
                    peer=ids[peer],
                    peer_port=ports[peer],
                    port=ports[me],
                    gui_port=guis[me],
                    api_key=key,
                )
            )
            procs.append(
                subprocess.Popen(
                    [*SERVE, f"--home={homes[me]}"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={**os.environ, "STNODEFAULTFOLDER": "1", "STNOUPGRADE": "1"},
                )
            )
        _wait_connected(guis["a"], key, ids["b"])
        return measure(folders["a"], folders["b"], changes)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def _wait_connected(gui_port: int, key: str, peer: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{gui_port}/rest/system/connections"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url, headers={"X-API-Key": key}, timeout=5)
            if answer.status_code == 200 and answer.json()["connections"][peer]["connected"]:
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.2)  # poll interval of a deadline loop
    raise RuntimeError("the two syncthing instances did not connect")


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f} ms (mean {statistics.mean(values) * 1000:.0f})"


if __name__ == "__main__":
    main()
