"""The nginx config of docs/server.md, run as printed, in front of two ``syncd serve``.

The config is read from the document itself (only the ports and the log paths change),
so the page cannot drift from what works. The two processes share one SQLite data
directory: enough to prove the proxying (big bodies, request ids, the drain of one
process); the real multi-process mode needs PostgreSQL. Skipped where nginx is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from syncd.soak.harness import ServerProcess, create_account, free_port, wait_until
from tests.support.clients import SyncClient, create_workspace, remote_tree, write

NGINX = shutil.which("nginx") or (
    "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
)
DOC = Path(__file__).parents[3] / "docs" / "server.md"
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


@dataclass
class Proxy:
    """nginx, reached as a client reaches a ``ServerProcess``."""

    url: str

    def client(self, api_key: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
        )


def documented_config() -> str:
    """The ``nginx`` block of docs/server.md."""
    blocks = re.findall(r"```nginx\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 1, "docs/server.md should show one nginx config"
    return blocks[0]


def nginx_conf(site: str, ports: tuple[int, int], listen: int, root: Path) -> str:
    """The documented site, on our ports, inside a main config an unprivileged run needs."""
    assert "127.0.0.1:8701" in site and "127.0.0.1:8702" in site and "listen 80;" in site
    site = site.replace("127.0.0.1:8701", f"127.0.0.1:{ports[0]}")
    site = site.replace("127.0.0.1:8702", f"127.0.0.1:{ports[1]}")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    return f"""
daemon off;
master_process off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 128; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
{site}
}}
"""


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Proxy, list[ServerProcess], Path]]:
    data = tmp_path / "data"
    first = ServerProcess(data).start()
    second = ServerProcess(data).start()
    root = tmp_path / "nginx"
    root.mkdir()
    listen = free_port()
    conf = root / "nginx.conf"
    conf.write_text(nginx_conf(documented_config(), (first.port, second.port), listen, root))
    nginx = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    proxy = Proxy(f"http://127.0.0.1:{listen}")

    def healthy() -> bool:
        if nginx.poll() is not None:
            raise RuntimeError(f"nginx exited: {nginx.stderr.read() if nginx.stderr else ''}")
        try:
            return httpx.get(f"{proxy.url}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    try:
        assert wait_until(healthy, 20), (root / "error.log").read_text()
        yield proxy, [first, second], data
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            nginx.wait(10)
        except subprocess.TimeoutExpired:
            nginx.kill()
        first.stop()
        second.stop()


def handled(server: ServerProcess) -> list[str]:
    return [line for line in list(server.stderr_lines) if " route=/api/" in line]


def test_two_processes_behind_the_documented_nginx(deployment, tmp_path: Path) -> None:
    proxy, servers, data = deployment
    key = create_account(data, "alice")
    workspace = create_workspace(proxy, key, "notes")  # type: ignore[arg-type]

    def client(name: str) -> SyncClient:
        (tmp_path / name).mkdir()
        return SyncClient(proxy, key, workspace, tmp_path / name, tmp_path / f"{name}-state")  # type: ignore[arg-type]

    a, b = client("a"), client("b")
    write(a.folder / "notes/small.txt", "hello through nginx\n")
    write(a.folder / "big.bin", os.urandom(3 << 20))  # past nginx's default 1 MiB limit
    a.sync()
    b.sync()
    assert b.tree() == a.tree() == remote_tree(servers[0], key, workspace)
    assert wait_until(lambda: handled(servers[0]) and handled(servers[1]), 10), "one process idle"

    answer = httpx.get(f"{proxy.url}/api/v1/workspaces", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200
    request_id = answer.headers["x-request-id"]  # nginx's $request_id, logged by syncd
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert wait_until(
        lambda: any(f"request_id={request_id} " in ln for s in servers for ln in s.stderr_lines),
        10,
    )
    assert httpx.get(f"{proxy.url}/metrics").status_code == 404  # not served to the outside

    # One process drains (a restart): nginx sends everything to the other.
    assert servers[0].stop() == 0
    write(a.folder / "after.txt", "written while one process was down\n")
    a.sync()
    b.sync()
    assert (b.folder / "after.txt").read_text() == "written while one process was down\n"
    assert key not in "\n".join(servers[0].stderr_lines + servers[1].stderr_lines)
