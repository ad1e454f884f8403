"""Syncthing as an anchor: two local instances sharing one folder, on loopback.

Each instance gets its own home (keys from ``syncthing generate``) and a config that knows
only the other one on 127.0.0.1 (no discovery, relays, NAT or usage reporting); the file
watcher is on with fsWatcherDelayS ``delay``: its default 10 s, or 1 s, its quickest
sensible setting. ``transfer_seconds`` times a whole tree from one folder to the other
(scan, hash, transfer, write), with a scan asked for at once, so no watcher delay counts.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from syncd.soak.harness import free_port

CONFIG = """<configuration version="36">
  <folder id="bench" label="bench" path="{folder}" type="sendreceive" rescanIntervalS="3600"
          fsWatcherEnabled="true" fsWatcherDelayS="{delay}">
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


def installed() -> bool:
    return shutil.which("syncthing") is not None


@dataclass
class Pair:
    """Two connected instances: ``a`` and ``b`` are their folders, ``guis`` their REST ports."""

    a: Path
    b: Path
    guis: dict[str, int]
    key: str

    def rest(self, side: str, method: str, path: str) -> httpx.Response:
        url = f"http://127.0.0.1:{self.guis[side]}{path}"
        return httpx.request(method, url, headers={"X-API-Key": self.key}, timeout=30)


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


@contextmanager
def syncthing_pair(work: Path, *, delay: int = 1) -> Iterator[Pair]:
    """Start the pair, wait until they are connected, stop both at the end."""
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
                    delay=delay,
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
        pair = Pair(folders["a"], folders["b"], guis, key)
        _wait_connected(pair, ids["b"])
        yield pair
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def transfer_seconds(work: Path, tree: Path, timeout: float = 1800.0) -> float:
    """Seconds from a tree appearing in one folder to all of it in the other's.

    The tree is copied next to folder ``a`` first and renamed in (one atomic step), then a
    scan is asked for over REST, so neither the copy nor the watcher delay is timed; the
    clock stops when ``b`` reports every file of ``a`` in sync and nothing left to pull.
    """
    files = sum(len(names) for _, _, names in os.walk(tree))
    with syncthing_pair(work) as pair:
        staged = pair.a.parent / "staged"
        shutil.copytree(tree, staged)
        started = time.perf_counter()
        os.rename(staged, pair.a / tree.name)
        pair.rest("a", "POST", "/rest/db/scan?folder=bench")
        deadline = started + timeout
        while time.perf_counter() < deadline:
            status = pair.rest("b", "GET", "/rest/db/status?folder=bench").json()
            if status.get("localFiles") == files and status.get("needTotalItems") == 0:
                return time.perf_counter() - started
            time.sleep(0.05)  # the poll interval of a deadline loop
    raise RuntimeError(f"syncthing did not finish {files} files within {timeout:.0f} s")


def _wait_connected(pair: Pair, peer: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = pair.rest("a", "GET", "/rest/system/connections")
            if answer.status_code == 200 and answer.json()["connections"][peer]["connected"]:
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(0.2)  # poll interval of a deadline loop
    raise RuntimeError("the two syncthing instances did not connect")
