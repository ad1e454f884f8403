"""Drive a ``RecordDecoder`` from a byte iterator: records with their payloads, in order.

The client reads a response with a sync iterator, the server a request body with an async
one; both get ``(record, payload)`` pairs from the same decoder.

1. A payload of at most ``whole`` bytes arrives gathered (``payload.data``); a larger one
   is streamed as it arrives (iterate it), never held whole.
2. A payload must be read before the next record: whatever the caller left unread is
   skipped when it asks for the next pair, so the framing always stays in step.
3. The source ending early, or any fault of the stream, raises the decoder's error from
   the iteration, at the record where it happened.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Generic

from syncd.protocol.records import (
    END,
    NEED_DATA,
    Event,
    Header,
    Payload,
    R,
    RecordDecoder,
    RecordEnd,
)

WHOLE = 64 << 10  # payloads up to this size are handed over as bytes


class SyncPayload:
    """The bytes after one record: ``data`` when small, else iterate the chunks once."""

    def __init__(self, size: int, data: bytes | None, pull: Callable[[], bytes | None]):
        self.size = size
        self.data = data
        self._pull = pull  # the next chunk, None once the payload is over

    def __iter__(self) -> Iterator[bytes]:
        if self.data is not None:
            if self.data:
                yield self.data
            return
        # Pulled one by one, not delegated: closing an abandoned iterator must not close
        # the reader's, which ``skip`` still needs (PROMISE 2).
        while (chunk := self._pull()) is not None:
            yield chunk

    def read(self) -> bytes:
        return self.data if self.data is not None else b"".join(self)

    def skip(self) -> None:
        """Read to the end without keeping anything (PROMISE 2)."""
        while self._pull() is not None:
            pass


class AsyncPayload:
    """``SyncPayload`` for an async source: ``async for chunk in payload``."""

    def __init__(
        self, size: int, data: bytes | None, pull: Callable[[], Awaitable[bytes | None]]
    ) -> None:
        self.size = size
        self.data = data
        self._pull = pull

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.data is not None:
            if self.data:
                yield self.data
            return
        while (chunk := await self._pull()) is not None:
            yield chunk

    async def read(self) -> bytes:
        if self.data is not None:
            return self.data
        return b"".join([chunk async for chunk in self])

    async def skip(self) -> None:
        while await self._pull() is not None:
            pass


class _SyncReader(Generic[R]):
    def __init__(self, source: Iterable[bytes], decoder: RecordDecoder[R]) -> None:
        self._source = iter(source)
        self.decoder = decoder
        self._in_payload = False

    def event(self) -> Event:
        while True:
            event = self.decoder.next_event()
            if event is not NEED_DATA:
                return event
            chunk = next(self._source, None)
            if chunk is None:
                self.decoder.end()
            elif chunk:
                self.decoder.feed(chunk)

    def start_payload(self) -> None:
        self._in_payload = True

    def pull(self) -> bytes | None:
        """The next chunk of the current payload; None (from then on) once it is over."""
        if not self._in_payload:
            return None
        event = self.event()
        if isinstance(event, RecordEnd):
            self._in_payload = False
            return None
        assert isinstance(event, Payload)
        return event.data


def iter_records(
    source: Iterable[bytes], decoder: RecordDecoder[R], whole: int = WHOLE
) -> Iterator[tuple[R, SyncPayload]]:
    """Every record of ``source`` with its payload (PROMISES 1-3)."""
    reader = _SyncReader(source, decoder)
    while True:
        event = reader.event()
        if event is END:
            return
        assert isinstance(event, Header)
        size = event.record.payload_size
        reader.start_payload()
        if size <= whole:
            data = b"".join(iter(reader.pull, None))
            yield event.record, SyncPayload(size, data, reader.pull)
            continue
        payload = SyncPayload(size, None, reader.pull)
        yield event.record, payload
        payload.skip()


class _AsyncReader(Generic[R]):
    def __init__(self, source: AsyncIterable[bytes], decoder: RecordDecoder[R]) -> None:
        self._source = aiter(source)
        self.decoder = decoder
        self._in_payload = False

    async def event(self) -> Event:
        while True:
            event = self.decoder.next_event()
            if event is not NEED_DATA:
                return event
            chunk = await anext(self._source, None)
            if chunk is None:
                self.decoder.end()
            elif chunk:
                self.decoder.feed(chunk)

    def start_payload(self) -> None:
        self._in_payload = True

    async def pull(self) -> bytes | None:
        if not self._in_payload:
            return None
        event = await self.event()
        if isinstance(event, RecordEnd):
            self._in_payload = False
            return None
        assert isinstance(event, Payload)
        return event.data


async def aiter_records(
    source: AsyncIterable[bytes], decoder: RecordDecoder[R], whole: int = WHOLE
) -> AsyncIterator[tuple[R, AsyncPayload]]:
    """``iter_records`` for an async source (the server's request body)."""
    reader = _AsyncReader(source, decoder)
    while True:
        event = await reader.event()
        if event is END:
            return
        assert isinstance(event, Header)
        size = event.record.payload_size
        reader.start_payload()
        if size <= whole:
            parts = []
            while (chunk := await reader.pull()) is not None:
                parts.append(chunk)
            yield event.record, AsyncPayload(size, b"".join(parts), reader.pull)
            continue
        payload = AsyncPayload(size, None, reader.pull)
        yield event.record, payload
        await payload.skip()
