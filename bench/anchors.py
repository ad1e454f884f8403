"""The anchors syncd is measured against in the same run: curl to nginx, unison.

1. curl: ONE ``curl --config FILE`` process does every PUT (or GET) of a tree in sequence
   over one kept-alive connection, so process start-up is paid once, not per file.
2. nginx is started here on a loopback port with a temp config: WebDAV PUT with
   ``create_full_put_path``, and a ``client_body_buffer_size`` large enough that a body
   stays in memory (nginx writes nothing to a temp file before the final one).
3. unison runs local to local (the tree against a hub folder), first run, no-op and after
   the same 1% change that syncd sees; ``.syncd*`` names are ignored.
4. syncd itself runs from bytecode written once before the run (``precompile_syncd``), as
   an installed copy does, not compiled again by every process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from syncd.soak.harness import free_port

NGINX_CONF = """\
{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 0;
    client_body_buffer_size 1200m;
    keepalive_requests 1000000;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }}
    }}
}}
"""


def precompile_syncd() -> None:
    """Write syncd's bytecode once, as ``pip install`` does. Where
    ``PYTHONDONTWRITEBYTECODE`` is set (some shells and containers set it), every syncd
    process of a run would otherwise compile each module it imports again: a start-up
    cost of the machine, not of syncd."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "syncd"), quiet=1)


def installed(*names: str) -> bool:
    return all(shutil.which(n) for n in names)


class Nginx:
    """An nginx serving ``root`` on a free loopback port, stopped on ``close``."""

    def __init__(self, base: Path) -> None:
        self.prefix, self.root = base / "nginx", base / "nginx" / "root"
        self.root.mkdir(parents=True)
        self.port = free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(user=user, prefix=self.prefix, port=self.port, root=self.root)
        )
        self.proc = subprocess.Popen(
            ["nginx", "-p", str(self.prefix), "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)

    def url(self, rel: str) -> str:
        from urllib.parse import quote

        return f"http://127.0.0.1:{self.port}/{quote(rel)}"


def curl_all(nginx: Nginx, tree: Path, paths: list[str], *, upload: bool, dest: Path) -> float:
    """Seconds for one curl process doing every PUT (``upload``) or GET in sequence."""
    config = dest.parent / ("curl-put.conf" if upload else "curl-get.conf")
    lines = []
    for rel in paths:
        lines.append(f'url = "{nginx.url(rel)}"')
        target = tree / rel if upload else dest / rel
        lines.append(f'{"upload-file" if upload else "output"} = "{target}"')
    config.write_text("\n".join(lines) + "\n")
    cmd = ["curl", "-sS", "--fail", "--create-dirs", "--config", str(config)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=7200)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"curl exited {proc.returncode}: {proc.stderr[:500]}")
    return elapsed


class Unison:
    """unison between ``tree`` and a hub folder, its archives in a private UNISON dir."""

    def __init__(self, base: Path, tree: Path) -> None:
        self.tree, self.hub, self.home = tree, base / "unison-hub", base / "unison-home"
        self.hub.mkdir(parents=True)
        self.home.mkdir()

    def run(self) -> float:
        cmd = ["unison", str(self.tree), str(self.hub), "-batch", "-auto", "-times"]
        cmd += ["-silent", "-ignore", "Name .syncd*", "-confirmbigdel=false"]
        env = {**os.environ, "UNISON": str(self.home)}
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=7200)
        elapsed = time.perf_counter() - started
        if proc.returncode not in (0, 1):  # 1: nothing to do or all skipped
            raise SystemExit(f"unison exited {proc.returncode}: {proc.stderr[:500]}")
        return elapsed


def wait_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # poll with a deadline: nothing to wait on but the port
    raise SystemExit(f"nothing listened on {port}")
