"""Run the app on uvicorn: our own socket, our own signals, our own ``listening on`` line.

1. The socket is bound before uvicorn starts, so ``--port 0`` works and a port in use is a
   ``UsageError`` (one line, exit 2) rather than a traceback.
2. ``listening on http://HOST:PORT`` is printed and flushed only once connections are
   accepted; under systemd (``Type=notify``) that is also when ``READY=1`` is sent.
3. SIGTERM/SIGINT drain the process: ``STOPPING=1`` to systemd, ``/healthz`` answers 503,
   the listening socket closes (new connections are refused, so a proxy tries another
   process), parked long polls answer at once with what they have (an empty page),
   in-flight requests finish within ``--drain-timeout`` seconds (then they are cut),
   the database closes, and ``serve`` returns normally (exit 0).
"""

from __future__ import annotations

import logging
import os
import socket
import sys

import uvicorn

from syncd.errors import UsageError
from syncd.notify import SystemdNotifier
from syncd.server.app import create_app
from syncd.server.context import ServerContext
from syncd.server.settings import ServerSettings

log = logging.getLogger("syncd.server")


class _Server(uvicorn.Server):
    """uvicorn, with a readiness line and a shutdown that wakes long polls first."""

    def __init__(self, config: uvicorn.Config, ctx: ServerContext, url: str) -> None:
        super().__init__(config)
        self.ctx = ctx
        self.url = url
        self.systemd = SystemdNotifier()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            sys.stdout.write(f"listening on {self.url}\n")
            sys.stdout.flush()
            self.systemd.ready(f"listening on {self.url}")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        in_flight = len(self.server_state.tasks)
        log.info(
            "event=draining in_flight=%d timeout=%gs", in_flight, self.ctx.settings.drain_timeout
        )
        self.systemd.stopping(f"draining {in_flight} requests")
        self.ctx.health.draining = True
        self.ctx.notifier.close()
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: object) -> None:
        # Unlike uvicorn's own handler, do not re-raise the signal after the graceful
        # shutdown: a stop on request is a clean exit 0 (CLI.md).
        if self.should_exit and sig == 2:
            self.force_exit = True
        self.should_exit = True


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # listening socket says so, and without it every small answer waits for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(settings: ServerSettings, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT (PROMISES 1-3)."""
    sock = bind(host, port)
    real_host, real_port = sock.getsockname()[:2]
    shown = f"[{real_host}]" if ":" in real_host else real_host
    ctx = ServerContext(settings)
    try:
        config = uvicorn.Config(
            create_app(ctx),
            http="h11",
            loop="asyncio",
            lifespan="on",
            access_log=False,
            log_config=None,
            log_level=logging.WARNING,
            timeout_graceful_shutdown=settings.drain_timeout,
            h11_max_incomplete_event_size=64 * 1024,
        )
        server = _Server(config, ctx, f"http://{shown}:{real_port}")
        server.run(sockets=[sock])
    finally:
        ctx.close()
        sock.close()
    log.info("event=stopped pid=%d", os.getpid())
