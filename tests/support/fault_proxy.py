"""A fault-injecting HTTP/1.1 proxy between a syncd client and a real server, for tests.

It runs an asyncio loop in a background thread, so synchronous tests can use it, parses
both sides with h11 and injects the failures a mock cannot produce.

1. Bodies stream in both directions with back-pressure: a 64 MiB transfer never sits in
   memory whole.
2. Keep-alive and chunked transfer encoding work on both sides; a fault that cuts a
   connection only costs that connection.
3. Faults are checked in the order added; the first that matches and fires applies. Each
   fault draws from its own RNG seeded from (seed, the fault's number), so the same seed
   and the same requests give the same faults.
4. A cut fault never lets the complete message through: when the body is shorter than
   ``after_bytes``, the cut falls just before its last byte (or before the response head
   when the response has no body).
5. ``log`` gets an entry as soon as a request head arrives; its ``status`` is set before the
   response head reaches the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import random
import re
import socket
import struct
import termios
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11

ACTIONS = ("reset_request", "reset_response", "truncate", "status", "stall", "hook")
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade"}
ERROR_CODES = {400: "invalid_parameter", 401: "unauthorized", 404: "not_found"}
ERROR_CODES |= {405: "invalid_parameter", 409: "conflict", 410: "revision_obsoleted"}
ERROR_CODES |= {412: "precondition_failed", 413: "too_large", 429: "rate_limited"}
ERROR_CODES |= {503: "unavailable"}  # any other 5xx is "internal"
READ_SIZE = 64 * 1024


@dataclass
class Fault:
    """One failure to inject, on requests that match ``method`` and the ``path`` regex.

    reset_request   pass on the head and at most ``after_bytes`` of the body, then RST
                    (a request without a body is not forwarded at all)
    reset_response  RST the client after ``after_bytes`` of the response body
    truncate        close cleanly (FIN) after ``after_bytes`` of the response body
    status          answer ``status`` with the PROTOCOL.md error body, optional Retry-After;
                    the request body is read first, so keep-alive survives
    stall           wait ``delay`` seconds (None: until the proxy stops) before forwarding,
                    or, with ``after_bytes`` > 0, after that much of the response body
    hook            call ``hook`` in a worker thread, then forward on a fresh upstream
                    connection (the hook may restart the server or call set_upstream)
    """

    action: str
    method: str | None = None
    path: str | None = None
    times: int | None = 1
    after_bytes: int = 0
    status: int | None = None
    retry_after: float | None = None
    delay: float | None = None
    probability: float = 1.0
    hook: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}")
        if self.action == "status" and self.status is None:
            raise ValueError("a status fault needs a status code")
        if self.action == "hook" and self.hook is None:
            raise ValueError("a hook fault needs a hook")


@dataclass
class LogEntry:
    """One request as the proxy saw it: ``status`` stays None when no response got out."""

    method: str
    target: str
    status: int | None
    fault: str | None


def error_body(status: int) -> bytes:
    """The PROTOCOL.md error body for an injected status."""
    code = ERROR_CODES.get(status, "internal" if status >= 500 else "invalid_parameter")
    return json.dumps({"error": code, "message": f"injected fault: HTTP {status}"}).encode()


def format_retry_after(seconds: float) -> str:
    """Whole seconds as an integer (RFC 9110); a fraction is kept so tests can stay fast."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _matches(method: str | None, path: str | None, entry_method: str, target: str) -> bool:
    if method is not None and method.upper() != entry_method:
        return False
    return path is None or re.search(path, target) is not None


class _Armed:
    """A fault plus its own firing budget and RNG (the caller's Fault is never mutated)."""

    def __init__(self, fault: Fault, rng: random.Random) -> None:
        self.fault = fault
        self.remaining = fault.times
        self.rng = rng

    def fires(self, method: str, target: str) -> bool:
        fault = self.fault
        if self.remaining == 0 or not _matches(fault.method, fault.path, method, target):
            return False
        if fault.probability < 1.0 and self.rng.random() >= fault.probability:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class _Gone(Exception):
    """The client connection ends: reset (RST) by default, or closed cleanly (FIN)."""

    def __init__(self, reason: str, *, reset: bool = True) -> None:
        super().__init__(reason)
        self.reset = reset


class _Peer:
    """One socket and its h11 state machine; socket errors surface as ``_Gone``."""

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
            raise _Gone(str(exc)) from exc
        return event

    async def body(self) -> AsyncIterator[bytes]:
        """The body of the current message, piece by piece, as it arrives."""
        while not isinstance(event := await self.next_event(), h11.EndOfMessage):
            if not isinstance(event, h11.Data):
                raise _Gone("peer went away mid-message")
            yield bytes(event.data)

    async def send(self, event: object) -> None:
        try:
            if data := self.conn.send(event):
                self.writer.write(data)
                await self.writer.drain()
        except OSError as exc:
            raise _Gone(str(exc)) from exc

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
    except OSError:
        return 0


class _Cut:
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


class FaultProxy:
    """The proxy: ``start()`` binds 127.0.0.1 on a free port and sets ``url``.

    ``errors`` collects unexpected exceptions of the proxy itself, so a test can assert
    that the failures it saw were the injected ones.
    """

    def __init__(self, upstream: str, seed: int = 0) -> None:
        self.seed = seed
        self.url = ""
        self.log: list[LogEntry] = []
        self.connections = 0
        self.errors: list[BaseException] = []
        self._upstream = _split(upstream)
        self._lock = threading.Lock()
        self._armed: list[_Armed] = []
        self._added = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> FaultProxy:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        listen = asyncio.start_server(self._accept, "127.0.0.1", 0, limit=READ_SIZE)
        self._server = asyncio.run_coroutine_threadsafe(listen, loop).result(10)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    def stop(self) -> None:
        """Close the listener and every connection, stalled ones included; idempotent."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start() if self._loop is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._armed.append(_Armed(fault, random.Random(f"{self.seed}:{self._added}")))
            self._added += 1

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def set_upstream(self, url: str) -> None:
        """Retarget the next requests; kept-alive connections to the old target are dropped."""
        target = _split(url)
        with self._lock:
            self._upstream = target

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests the proxy has seen that match, as a Fault would match them."""
        with self._lock:
            return sum(_matches(method, path, e.method, e.target) for e in self.log)

    def _pick(self, method: str, target: str) -> tuple[LogEntry, Fault | None]:
        with self._lock:
            fault = next((a.fault for a in self._armed if a.fires(method, target)), None)
            entry = LogEntry(method, target, None, fault.action if fault else None)
            self.log.append(entry)
            return entry, fault

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        client = _Peer(reader, writer, h11.SERVER)
        upstream: list[_Peer | None] = [None]
        try:
            while await self._exchange(client, upstream):
                client.conn.start_next_cycle()
            await client.close()
        except _Gone as exc:
            await (client.reset() if exc.reset else client.close())
        except asyncio.CancelledError:
            pass  # stop(): end quietly (3.11 streams log a cancelled handler task)
        except Exception as exc:
            self.errors.append(exc)
            await client.reset()
        finally:
            if upstream[0] is not None:
                upstream[0].writer.transport.abort()
            writer.transport.abort()
            self._tasks.discard(task)

    async def _exchange(self, client: _Peer, upstream: list[_Peer | None]) -> bool:
        """Serve one request; return whether the client connection stays open."""
        request = await client.next_event()
        if isinstance(request, h11.ConnectionClosed):
            return False
        if not isinstance(request, h11.Request):
            raise _Gone(f"unexpected {type(request).__name__}")
        entry, fault = self._pick(request.method.decode(), request.target.decode("latin-1"))
        action, after = (fault.action, fault.after_bytes) if fault else (None, 0)
        if action == "reset_request":
            await self._reset_request(client, request, upstream, after)
        if action == "hook" and fault and fault.hook:
            await asyncio.to_thread(fault.hook)
        if action == "stall" and fault and after == 0:
            await _stall(fault.delay)
        up = None if action == "status" else await self._connect(upstream, action == "hook")
        if up is not None:
            await self._forward(client, up, request, entry, fault)
        else:  # an injected status, or the upstream is down: answer as a reverse proxy does
            async for _ in client.body():
                pass
            status = fault.status if fault and fault.status else 502
            retry_after = fault.retry_after if fault else None
            entry.status = status
            await _reply(client, status, retry_after)
        return client.conn.our_state is not h11.MUST_CLOSE

    async def _connect(self, upstream: list[_Peer | None], fresh: bool) -> _Peer | None:
        """Reuse the kept-alive upstream connection when it still points at the target."""
        with self._lock:
            target = self._upstream
        old = upstream[0]
        if old is not None:
            if not fresh and old.target == target and old.is_reusable():
                return old
            old.writer.transport.abort()
            upstream[0] = None
        try:
            reader, writer = await asyncio.open_connection(*target, limit=READ_SIZE)
        except OSError:
            return None
        upstream[0] = _Peer(reader, writer, h11.CLIENT)
        upstream[0].target = target
        return upstream[0]

    async def _reset_request(
        self, client: _Peer, request: h11.Request, upstream: list[_Peer | None], limit: int
    ) -> None:
        """Pass on the head and at most ``limit`` body bytes, then reset both sides."""
        up, cut = None, _Cut(limit)
        async with contextlib.aclosing(client.body()) as body:
            async for data in body:
                if up is None and (up := await self._connect(upstream, True)) is not None:
                    await up.send(_outgoing(request))
                data, now = cut.feed(data)
                if data and up is not None:
                    await up.send(h11.Data(data=data))
                if now:
                    break
        if up is not None:
            await up.reset()
            upstream[0] = None
        raise _Gone("reset_request")

    async def _forward(
        self, client: _Peer, up: _Peer, request: h11.Request, entry: LogEntry, fault: Fault | None
    ) -> None:
        """Relay one exchange; the request body streams up while the response streams back."""
        await up.send(_outgoing(request))
        pump = asyncio.create_task(_pump(client, up))
        try:
            await _relay_response(client, up, request, entry, fault)
            # An early answer (413 before the whole body) leaves the pump running: the
            # client connection then closes, as the server's own would.
            await asyncio.wait({pump}, timeout=1.0)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, _Gone):
                await pump
        if pump.cancelled() or pump.exception() is not None:
            raise _Gone("request body did not arrive whole", reset=False)
        if up.conn.our_state is h11.DONE and up.conn.their_state is h11.DONE:
            up.conn.start_next_cycle()


def _split(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.port is None:
        raise ValueError(f"upstream must be http://HOST:PORT, not {url!r}")
    return parts.hostname, parts.port


def _outgoing(request: h11.Request) -> h11.Request:
    headers = [(n, v) for n, v in request.headers if n.lower() not in HOP_BY_HOP]
    return h11.Request(method=request.method, target=request.target, headers=headers)


async def _stall(delay: float | None) -> None:
    # None: until the proxy stops; the client gives up on its own timeout first.
    await asyncio.sleep(delay if delay is not None else 10**9)


async def _reply(client: _Peer, status: int, retry_after: float | None) -> None:
    body = error_body(status)
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if retry_after is not None:
        headers.append(("Retry-After", format_retry_after(retry_after)))
    for event in (h11.Response(status_code=status, headers=headers), h11.Data(data=body)):
        await client.send(event)
    await client.send(h11.EndOfMessage())


async def _pump(client: _Peer, up: _Peer) -> None:
    """Stream the request body upstream; if the client goes away, so does the upstream."""
    try:
        async for data in client.body():
            await up.send(h11.Data(data=data))
        await up.send(h11.EndOfMessage())
    except _Gone:
        up.writer.transport.abort()
        raise


async def _relay_response(
    client: _Peer, up: _Peer, request: h11.Request, entry: LogEntry, fault: Fault | None
) -> None:
    """Forward the response, cutting or stalling it where the fault says."""
    action, after = (fault.action, fault.after_bytes) if fault else (None, 0)
    cut = _Cut(after) if action in ("reset_response", "truncate") else None
    stall_at = after if action == "stall" and after > 0 else None
    gone = _Gone(str(action), reset=action == "reset_response")
    while isinstance(event := await up.next_event(), h11.InformationalResponse):
        pass
    if not isinstance(event, h11.Response):
        raise _Gone("upstream gave no response")
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
            await _stall(fault.delay if fault else None)
            sent, data = stall_at, data[stall_at - sent :]
        sent += len(data)
        if data:
            await client.send(h11.Data(data=data))
        if now:
            raise gone
    if cut is not None:
        raise gone
    await client.send(h11.EndOfMessage())
