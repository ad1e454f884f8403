"""The record stream of E5/E6: a JSON line per record, a record's payload right after it.

Each line is one JSON object (UTF-8); the record parsed from it says how many raw bytes
follow (``payload_size``), so a payload may hold newlines or anything else.

1. Sans-I/O (as h11): ``RecordDecoder.feed`` takes bytes, ``next_event`` hands out what
   they complete; nothing here reads a socket, so the server's async body and the client's
   sync response drive the same decoder (``streams.py``).
2. A payload is handed on slice by slice as it arrives and never gathered here; a line is
   buffered only up to ``Limits.max_line``, so a hostile stream cannot make it hold more.
3. Limits are checked on the record line, before its payload is read: ``max_records``,
   ``max_payload`` (one record), ``max_total`` (all of them) raise ``RecordLimit`` (413).
4. Every other fault raises one ``RecordError`` subclass (400) that names the record:
   the stream ends inside a record (``TruncatedStream``), bytes follow the expected last
   record (``TrailingBytes``), a line is not a strict-JSON object (``MalformedLine``), and
   the schema's own refusals (``UnknownOp``, ``BadField``), plus ``DuplicatePath`` when
   two records name one path (paths are NFC by then, so NFD spellings collide too).
5. ``encode_stream`` writes records and their payloads, gathering small pieces into
   chunks of about ``CHUNK`` bytes, and refuses a payload that is not its declared size.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from syncd.errors import InvalidParameter, TooLarge

MEDIA_TYPE = "application/vnd.syncd.records"
MAX_LINE = 64 << 10  # a path is at most 4096 bytes; escaped, with every field, far less
CHUNK = 64 << 10  # the encoder's output chunks: small records are not sent one by one
_COMPACT = 64 << 10  # consumed bytes dropped from the buffer past this


class RecordError(InvalidParameter):
    """The stream breaks the framing or the schema: it is refused as a whole."""


class TruncatedStream(RecordError):
    """The stream ends inside a record (its line or its payload) or before the last one."""


class TrailingBytes(RecordError):
    """Bytes follow the last record the reader expected."""


class MalformedLine(RecordError):
    """A line that is not one strict-JSON object in UTF-8, or longer than the limit."""


class UnknownOp(RecordError):
    """A write record whose ``op`` is not one of E5's."""


class BadField(RecordError):
    """A missing or wrong-typed field, or a path that breaks the path rules."""


class DuplicatePath(RecordError):
    """Two records name the same path (after NFC)."""


class RecordLimit(TooLarge):
    """More records, or more payload bytes, than the reader accepts (413)."""


class Record(Protocol):
    """What the framing needs of a record: its path and how many raw bytes follow it."""

    @property
    def path(self) -> str: ...

    @property
    def payload_size(self) -> int: ...

    def to_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Record)
Parse = Callable[[Mapping[str, Any]], R]


@dataclass(frozen=True, slots=True)
class Limits:
    """What a reader accepts; ``None`` is no limit."""

    max_records: int | None = None
    max_payload: int | None = None  # bytes after one record
    max_total: int | None = None  # payload bytes of the whole stream
    max_line: int = MAX_LINE
    expected: int | None = None  # exactly this many records, then nothing (an E6 answer)


@dataclass(frozen=True, slots=True)
class Header(Generic[R]):
    """A record line, parsed; ``record.payload_size`` bytes follow as ``Payload`` events."""

    record: R
    index: int  # 0-based position in the stream


@dataclass(frozen=True, slots=True)
class Payload:
    data: bytes


@dataclass(frozen=True, slots=True)
class RecordEnd:
    """The record ``index`` and its payload are complete."""

    index: int


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = _Marker("NEED_DATA")  # feed more bytes (or call ``end``)
END = _Marker("END")  # the stream ended cleanly after its last record
Event = Header[Any] | Payload | RecordEnd | _Marker


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 19:  # past int64: no size or revision is that large
        raise ValueError("integer out of range")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key appears twice")
    return found


def parse_line(line: bytes) -> dict[str, Any]:
    """One line as a strict-JSON object: UTF-8, no NaN or Infinity, no key twice.

    Also the parser of an E6 request body, which is one such object too.
    """
    try:
        value = json.loads(
            line.decode("utf-8"),
            parse_constant=_no_constants,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_keys,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedLine(f"not a JSON object ({exc})") from exc
    if not isinstance(value, dict):
        raise MalformedLine("not a JSON object")
    return value


class RecordDecoder(Generic[R]):
    """PROMISES 1-4: bytes in (``feed``, ``end``), events out (``next_event``)."""

    def __init__(self, parse: Parse[R], limits: Limits = Limits()) -> None:
        self._parse = parse
        self.limits = limits
        self._buffer = bytearray()
        self._pos = 0  # start of the unconsumed bytes
        self._scanned = 0  # bytes after _pos known to hold no newline
        self._remaining = 0  # payload bytes of the current record still to come
        self._open: int | None = None  # index of the record whose RecordEnd is due
        self._count = 0
        self._total = 0
        self._paths: set[str] = set()
        self._ended = False

    def feed(self, data: bytes) -> None:
        if self._ended:
            raise RuntimeError("feed after end")
        self._buffer += data

    def end(self) -> None:
        """No more bytes will come: the next events finish the stream or raise."""
        self._ended = True

    def next_event(self) -> Event:
        available = len(self._buffer) - self._pos
        if self._remaining:
            if not available:
                if self._ended:
                    raise self._error(
                        TruncatedStream, f"ends {self._remaining} bytes short of its payload"
                    )
                return NEED_DATA
            take = min(self._remaining, available)
            data = bytes(self._buffer[self._pos : self._pos + take])
            self._consume(take)
            self._remaining -= take
            return Payload(data)
        if self._open is not None:
            index, self._open = self._open, None
            return RecordEnd(index)
        return self._next_line(available)

    def _next_line(self, available: int) -> Event:
        expected = self.limits.expected
        if expected is not None and self._count >= expected:
            if available:
                raise TrailingBytes(f"{available} bytes after the last of {expected} records")
            return END if self._ended else NEED_DATA
        newline = self._buffer.find(b"\n", self._pos + self._scanned)
        if (newline - self._pos if newline >= 0 else available) > self.limits.max_line:
            raise self._error(MalformedLine, f"a line longer than {self.limits.max_line}")
        if newline < 0:
            if not self._ended:
                self._scanned = available
                return NEED_DATA
            if available:
                raise self._error(TruncatedStream, "ends inside its line")
            if expected is not None:
                raise TruncatedStream(f"the stream ends after {self._count} of {expected} records")
            return END
        line = bytes(self._buffer[self._pos : newline])
        self._consume(len(line) + 1)
        return self._header(line)

    def _header(self, line: bytes) -> Header[R]:
        limits = self.limits
        if limits.max_records is not None and self._count >= limits.max_records:
            raise RecordLimit(f"more than {limits.max_records} records")
        try:
            record = self._parse(parse_line(line))
        except RecordError as exc:
            raise self._error(type(exc), str(exc)) from exc
        size = record.payload_size
        if limits.max_payload is not None and size > limits.max_payload:
            raise self._error(RecordLimit, f"{size} bytes is over {limits.max_payload}")
        self._total += size
        if limits.max_total is not None and self._total > limits.max_total:
            raise RecordLimit(f"more than {limits.max_total} payload bytes")
        if record.path in self._paths:
            raise self._error(DuplicatePath, f"{record.path!r} appears twice")
        self._paths.add(record.path)
        index = self._count
        self._count += 1
        self._remaining = size
        self._open = index
        return Header(record, index)

    def _consume(self, count: int) -> None:
        self._pos += count
        self._scanned = 0
        if self._pos >= _COMPACT and self._pos * 2 >= len(self._buffer):
            del self._buffer[: self._pos]
            self._pos = 0

    def _error(self, kind: type[InvalidParameter], what: str) -> InvalidParameter:
        return kind(f"record {self._count + 1}: {what}")


PayloadSource = bytes | Iterable[bytes] | None


def encode_line(record: Record) -> bytes:
    """The record's line: compact JSON, UTF-8 (control characters escaped), then ``\\n``."""
    text = json.dumps(record.to_json(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def encode_stream(
    items: Iterable[tuple[Record, PayloadSource]], chunk: int = CHUNK
) -> Iterator[bytes]:
    """A whole stream as byte chunks (PROMISE 5); a payload is read only when reached."""
    held = bytearray()
    for record, payload in items:
        held += encode_line(record)
        size, sent = record.payload_size, 0
        for part in [payload] if isinstance(payload, bytes) else payload or ():
            sent += len(part)
            if sent > size:
                raise ValueError(f"{record.path!r}: the payload is longer than {size} bytes")
            if held and len(held) + len(part) > chunk:
                yield bytes(held)
                held.clear()
            if len(part) >= chunk:
                yield bytes(part)
            else:
                held += part
        if sent != size:
            raise ValueError(f"{record.path!r}: the payload has {sent} bytes, not {size}")
        if len(held) >= chunk:
            yield bytes(held)
            held.clear()
    if held:
        yield bytes(held)
