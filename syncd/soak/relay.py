"""The h11 half of the soak's proxy: one socket per peer, bodies streamed, cuts and stalls.

1. Bodies stream in both directions with back-pressure: a 64 MiB transfer never sits in
   memory whole.
2. A cut never lets the complete message through: when the body is shorter than the
   limit, the cut falls just before its last byte (or before the response head when the
   response has no body).
3. Socket and protocol errors surface as ``Gone``: reset (RST) or closed cleanly (FIN).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import h11

from syncd.soak.faults import Fault, LogEntry, error_body, format_retry_after

HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade"}
READ_SIZE = 64 * 1024


class Gone(Exception):
    """The client connection ends: reset (RST) by default, or closed cleanly (FIN)."""

    def __init__(self, reason: str, *, reset: bool = True) -> None:
        super().__init__(reason)
        self.reset = reset


class Peer:
    """One socket and its h11 state machine; socket errors surface as ``Gone``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, role: type):
        self.reader = reader
        self.writer = writer
        self.conn = h11.Connection(role)
        self.target: tuple[str, int] | None = None  # for an upstream: where it points

    async def next_event(self) -> object:
        try:
            while (event := self.conn.next_event()) is h11.NEED_DATA:
                self.conn.receive_data(await self.reader.read(READ_SIZE))
        except (h11.RemoteProtocolError, OSError) as exc:
            raise Gone(str(exc)) from exc
        return event

    async def body(self) -> AsyncIterator[bytes]:
        """The body of the current message, piece by piece, as it arrives."""
        while not isinstance(event := await self.next_event(), h11.EndOfMessage):
            if not isinstance(event, h11.Data):
                raise Gone("peer went away mid-message")
            yield bytes(event.data)

    async def send(self, event: object) -> None:
        try:
            if data := self.conn.send(event):
                self.writer.write(data)
                await self.writer.drain()
        except OSError as exc:
            raise Gone(str(exc)) from exc

    def is_reusable(self) -> bool:
        return self.conn.our_state is h11.IDLE and not self.reader.at_eof()

    async def reset(self) -> None:
        """Send RST once the peer has the bytes already written (waits at most 1 s)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            deadline = time.monotonic() + 1.0
            while _unacked_bytes(sock) > 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.002)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        """Close cleanly (FIN) after flushing what was written."""
        with contextlib.suppress(OSError, RuntimeError):
            await self.writer.drain()
            self.writer.close()
            await self.writer.wait_closed()


def _unacked_bytes(sock: socket.socket) -> int:
    try:
        return struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    except (OSError, ValueError):  # ValueError: the peer's reset already closed it (fd -1)
        return 0


class Cut:
    """Let at most ``limit`` body bytes through, and never the whole body."""

    def __init__(self, limit: int) -> None:
        self.room = limit
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """Return the bytes to pass on and whether the cut happens now."""
        buf = self.held + data
        if len(buf) > self.room:
            return buf[: self.room], True
        self.held, out = buf[-1:], buf[:-1]
        self.room -= len(out)
        return out, False


def split_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.port is None:
        raise ValueError(f"upstream must be http://HOST:PORT, not {url!r}")
    return parts.hostname, parts.port


def outgoing(request: h11.Request) -> h11.Request:
    headers = [(n, v) for n, v in request.headers if n.lower() not in HOP_BY_HOP]
    return h11.Request(method=request.method, target=request.target, headers=headers)


async def stall(delay: float | None) -> None:
    # None: until the proxy stops; the client gives up on its own timeout first.
    await asyncio.sleep(delay if delay is not None else 10**9)


async def reply(client: Peer, status: int, retry_after: float | None) -> None:
    body = error_body(status)
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if retry_after is not None:
        headers.append(("Retry-After", format_retry_after(retry_after)))
    for event in (h11.Response(status_code=status, headers=headers), h11.Data(data=body)):
        await client.send(event)
    await client.send(h11.EndOfMessage())


async def pump(client: Peer, up: Peer) -> None:
    """Stream the request body upstream; if the client goes away, so does the upstream."""
    try:
        async for data in client.body():
            await up.send(h11.Data(data=data))
        await up.send(h11.EndOfMessage())
    except Gone:
        up.writer.transport.abort()
        raise


async def relay_response(
    client: Peer, up: Peer, request: h11.Request, entry: LogEntry, fault: Fault | None
) -> None:
    """Forward the response, cutting or stalling it where the fault says."""
    action, after = (fault.action, fault.after_bytes) if fault else (None, 0)
    cut = Cut(after) if action in ("reset_response", "truncate") else None
    stall_at = after if action == "stall" and after > 0 else None
    gone = Gone(str(action), reset=action == "reset_response")
    while isinstance(event := await up.next_event(), h11.InformationalResponse):
        pass
    if not isinstance(event, h11.Response):
        raise Gone("upstream gave no response")
    headers = [(n, v) for n, v in event.headers if n.lower() not in HOP_BY_HOP]
    has_body = request.method != b"HEAD" and event.status_code not in (204, 304)
    if cut is not None and not (has_body and (b"content-length", b"0") not in headers):
        raise gone  # nothing to cut inside: the head itself must not arrive
    entry.status = event.status_code
    await client.send(h11.Response(status_code=event.status_code, headers=headers))
    sent = 0
    async for data in up.body():
        now = False
        if cut is not None:
            data, now = cut.feed(data)
        elif stall_at is not None and sent < stall_at <= sent + len(data):
            await client.send(h11.Data(data=data[: stall_at - sent]))
            await stall(fault.delay if fault else None)
            sent, data = stall_at, data[stall_at - sent :]
        sent += len(data)
        if data:
            await client.send(h11.Data(data=data))
        if now:
            raise gone
    if cut is not None:
        raise gone
    await client.send(h11.EndOfMessage())
