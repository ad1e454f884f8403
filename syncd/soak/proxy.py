"""A fault-injecting HTTP/1.1 proxy between a syncd client and a real server.

It runs an asyncio loop in a background thread, so synchronous callers (the soak, the
tests) can use it, parses both sides with h11 (``relay``) and injects the failures of
``faults`` that a mock cannot produce.

1. Keep-alive and chunked transfer encoding work on both sides; a fault that cuts a
   connection only costs that connection.
2. ``log`` gets an entry as soon as a request head arrives; its ``status`` is set before the
   response head reaches the client.
3. ``errors`` collects unexpected exceptions of the proxy itself, so a test can assert that
   the failures it saw were the injected ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading

import h11

from syncd.soak.faults import Armed, Fault, LogEntry, matches
from syncd.soak.relay import (
    READ_SIZE,
    Cut,
    Gone,
    Peer,
    outgoing,
    pump,
    relay_response,
    reply,
    split_url,
    stall,
)

__all__ = ["Fault", "FaultProxy", "LogEntry"]


class FaultProxy:
    """The proxy: ``start()`` binds 127.0.0.1 on a free port and sets ``url``.

    ``errors`` collects unexpected exceptions of the proxy itself, so a test can assert
    that the failures it saw were the injected ones.
    """

    def __init__(self, upstream: str | list[str], seed: int = 0) -> None:
        self.seed = seed
        self.url = ""
        self.log: list[LogEntry] = []
        self.connections = 0
        self.errors: list[BaseException] = []
        urls = [upstream] if isinstance(upstream, str) else list(upstream)
        self._upstreams = [split_url(url) for url in urls]
        self._turn = 0
        self._lock = threading.Lock()
        self._armed: list[Armed] = []
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
            self._armed.append(Armed(fault, random.Random(f"{self.seed}:{self._added}")))
            self._added += 1

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def set_upstream(self, url: str) -> None:
        """Retarget the next requests; kept-alive connections to the old target are dropped."""
        target = split_url(url)
        with self._lock:
            self._upstreams = [target]

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests the proxy has seen that match, as a Fault would match them."""
        with self._lock:
            return sum(matches(method, path, e.method, e.target) for e in self.log)

    def _pick(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[LogEntry, Fault | None]:
        with self._lock:
            fault = next((a.fault for a in self._armed if a.fires(method, target)), None)
            entry = LogEntry(method, target, None, fault.action if fault else None, headers)
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
        client = Peer(reader, writer, h11.SERVER)
        upstream: list[Peer | None] = [None]
        try:
            while await self._exchange(client, upstream):
                client.conn.start_next_cycle()
            await client.close()
        except Gone as exc:
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

    async def _exchange(self, client: Peer, upstream: list[Peer | None]) -> bool:
        """Serve one request; return whether the client connection stays open."""
        request = await client.next_event()
        if isinstance(request, h11.ConnectionClosed):
            return False
        if not isinstance(request, h11.Request):
            raise Gone(f"unexpected {type(request).__name__}")
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
        headers.pop("authorization", None)  # the log never holds a key
        entry, fault = self._pick(
            request.method.decode(), request.target.decode("latin-1"), headers
        )
        action, after = (fault.action, fault.after_bytes) if fault else (None, 0)
        if action == "reset_request":
            await self._reset_request(client, request, upstream, after)
        if action == "hook" and fault and fault.hook:
            await asyncio.to_thread(fault.hook)
        if action == "stall" and fault and after == 0:
            await stall(fault.delay)
        up = None if action == "status" else await self._connect(upstream, action == "hook")
        if up is not None:
            await self._forward(client, up, request, entry, fault)
        else:  # an injected status, or the upstream is down: answer as a reverse proxy does
            async for _ in client.body():
                pass
            status = fault.status if fault and fault.status else 502
            retry_after = fault.retry_after if fault else None
            entry.status = status
            await reply(client, status, retry_after)
        return client.conn.our_state is not h11.MUST_CLOSE

    async def _connect(self, upstream: list[Peer | None], fresh: bool) -> Peer | None:
        """Reuse the kept-alive upstream connection when it still points at the target.

        With several upstreams (server processes on one database), each request goes to
        the next one in turn, so an upload begun on one process goes on at another and a
        client's long poll waits on a process other than the one its writes reach.
        """
        with self._lock:
            target = self._upstreams[self._turn % len(self._upstreams)]
            self._turn += 1
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
        upstream[0] = Peer(reader, writer, h11.CLIENT)
        upstream[0].target = target
        return upstream[0]

    async def _reset_request(
        self, client: Peer, request: h11.Request, upstream: list[Peer | None], limit: int
    ) -> None:
        """Pass on the head and at most ``limit`` body bytes, then reset both sides."""
        up, cut = None, Cut(limit)
        async with contextlib.aclosing(client.body()) as body:
            async for data in body:
                if up is None and (up := await self._connect(upstream, True)) is not None:
                    await up.send(outgoing(request))
                data, now = cut.feed(data)
                if data and up is not None:
                    await up.send(h11.Data(data=data))
                if now:
                    break
        if up is not None:
            await up.reset()
            upstream[0] = None
        raise Gone("reset_request")

    async def _forward(
        self, client: Peer, up: Peer, request: h11.Request, entry: LogEntry, fault: Fault | None
    ) -> None:
        """Relay one exchange; the request body streams up while the response streams back."""
        await up.send(outgoing(request))
        pumping = asyncio.create_task(pump(client, up))
        try:
            await relay_response(client, up, request, entry, fault)
            # An early answer (413 before the whole body) leaves the pump running: the
            # client connection then closes, as the server's own would.
            await asyncio.wait({pumping}, timeout=1.0)
        finally:
            pumping.cancel()
            with contextlib.suppress(asyncio.CancelledError, Gone):
                await pumping
        if pumping.cancelled() or pumping.exception() is not None:
            raise Gone("request body did not arrive whole", reset=False)
        if up.conn.our_state is h11.DONE and up.conn.their_state is h11.DONE:
            up.conn.start_next_cycle()
