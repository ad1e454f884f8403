"""Batch reads (E6): many files in one answer, read incrementally, each checked.

    with client.batch.read(workspace_id, paths) as items:
        for item in items:            # one ReadItem per path, in order
            if item.entry is None:    # item.error: NotFound, PathConflict (a directory)
                continue
            for chunk in item.chunks():   # or item.data, for a small file
                ...

1. An item's content is its record's size and hash or nothing: a small file (at most
   ``WHOLE`` bytes) is checked before it is handed over (``data``); a large one is
   streamed by ``chunks()``, which holds its last chunk back until size and hash match.
   A mismatch is ``ProtocolViolation`` for that item; the rest of the answer goes on.
2. Nothing leaks from httpx or the decoder: a broken connection is ``ConnectionLost``,
   a stream that breaks the protocol ``ProtocolViolation``.
3. A read changes nothing, so it is retried: after a broken answer the paths not yet
   handed over (the one being read included: it comes again) are asked again, as a new
   request from the server's state at that time. An answer that made progress does not
   use up the retry budget.
4. ``close`` (or the end of the ``with``) gives the connection back, also when the caller
   stops early. A read takes no transfer slot: the caller may download or upload other
   files while it goes through the items.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from collections.abc import Iterator, Sequence
from functools import partial

import httpx

from syncd.errors import (
    ConnectionLost,
    InvalidParameter,
    ProtocolViolation,
    ServerUnreachable,
    SyncdError,
    TooLarge,
    Transient,
)
from syncd.paths import normalize
from syncd.protocol import routes
from syncd.protocol.batch import ReadRecord, parse_read, read_request
from syncd.protocol.records import Limits, RecordDecoder, RecordError, TruncatedStream
from syncd.protocol.streams import SyncPayload, iter_records
from syncd.transport.client import Connection
from syncd.transport.errors import error_for_exception, error_for_response, error_for_status
from syncd.transport.models import BatchLimits, Entry, parse_entry

WHOLE = 256 << 10  # files up to this size are handed over as bytes


class ReadItem:
    """One asked path: a file's entry and content, or why there is none."""

    def __init__(self, path: str, entry: Entry | None, error: SyncdError | None) -> None:
        self.path = path
        self.entry = entry
        self.error = error
        self.data: bytes | None = None  # the whole content of a small file, checked
        self._payload: SyncPayload | None = None
        self._broken: SyncdError | None = None  # the answer broke inside this item

    def chunks(self) -> Iterator[bytes]:
        """The content in chunks (PROMISE 1); raises before the last one on a mismatch."""
        if self.data is not None:
            if self.data:
                yield self.data
            return
        if self._payload is None or self.entry is None:
            return
        payload, self._payload = self._payload, None
        yield from _checked(self, payload, self.entry)


def _checked(item: ReadItem, payload: SyncPayload, entry: Entry) -> Iterator[bytes]:
    hasher = hashlib.sha256()
    count = 0
    held: bytes | None = None
    try:
        for chunk in payload:
            if held is not None:
                yield held
            hasher.update(chunk)
            count += len(chunk)
            held = chunk
    except (httpx.HTTPError, RecordError) as exc:
        item._broken = _mapped(exc, f"batch read {item.path}")
        raise item._broken from exc
    _verify(item.path, entry, count, hasher)
    if held is not None:
        yield held


def _verify(path: str, entry: Entry, count: int, hasher: hashlib._Hash) -> None:
    digest = f"sha256:{hasher.hexdigest()}"
    if count != entry.size or digest != entry.hash:
        raise ProtocolViolation(
            f"batch read {path}: got {count} bytes {digest}, the record says "
            f"{entry.size} bytes {entry.hash}",
            path=path,
        )


def _mapped(exc: Exception, what: str) -> Transient | SyncdError:
    if isinstance(exc, httpx.HTTPError):
        return error_for_exception(exc, what, None)
    if isinstance(exc, TruncatedStream):
        return ConnectionLost(f"{what}: the answer was cut short: {exc}", ambiguous=False)
    return ProtocolViolation(f"{what}: {exc}")


class BatchRead:
    """The items of one batch read, in request order (PROMISES 1-4)."""

    def __init__(
        self, connection: Connection, workspace_id: str, paths: Sequence[str], limits: BatchLimits
    ) -> None:
        normal = [normalize(path) for path in paths]
        if not normal or len(set(normal)) != len(normal):
            raise InvalidParameter("a batch read names one or more paths, each once")
        if len(normal) > limits.max_items:
            raise TooLarge(f"a batch read names at most {limits.max_items} paths")
        self._connection = connection
        self._url = routes.url(routes.BATCH_READ, workspace_id=workspace_id)
        self._remaining = deque(normal)
        self._response: httpx.Response | None = None
        self._items = self._run()

    def __iter__(self) -> Iterator[ReadItem]:
        return self._items

    def __enter__(self) -> BatchRead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._items.close()
        if self._response is not None:
            self._response.close()
            self._response = None

    def _run(self) -> Iterator[ReadItem]:
        policy = self._connection.policy
        rng = random.Random(policy.seed)
        failures = 0
        while self._remaining:
            asked = list(self._remaining)
            response = policy.run(partial(self._open, asked), what="POST batch-read")
            self._response = response
            try:
                for item in self._items_of(response, asked):
                    yield item
                    self._finish(item)
                    self._remaining.popleft()
                    failures = 0
            except Transient as exc:
                failures += 1
                if failures > policy.max_retries:
                    raise ServerUnreachable(f"batch read: gave up after {exc}") from exc
                policy.sleep(policy.backoff(failures, rng))
            finally:
                response.close()
                self._response = None

    def _open(self, asked: list[str], _state: object = None) -> httpx.Response:
        what = f"POST batch-read of {len(asked)}"
        secret = self._connection.settings.api_key
        http = self._connection.http
        try:
            request = http.build_request("POST", self._url, json=read_request(asked))
            response = http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise error_for_exception(exc, what, secret) from exc
        if response.status_code != 200:
            try:
                response.read()
            except httpx.HTTPError as exc:
                raise error_for_exception(exc, what, secret) from exc
            finally:
                response.close()
            raise error_for_response(response, what, "workspace", secret)
        return response

    def _items_of(self, response: httpx.Response, asked: list[str]) -> Iterator[ReadItem]:
        what = "batch read answer"
        decoder = RecordDecoder(parse_read, Limits(expected=len(asked)))
        records = iter_records(self._received(response), decoder, whole=WHOLE)
        position = 0
        while True:
            try:
                found = next(records, None)
            except (httpx.HTTPError, RecordError) as exc:
                raise _mapped(exc, what) from exc
            if found is None:
                return
            record, payload = found
            if record.path != asked[position]:
                raise ProtocolViolation(
                    f"{what}: {record.path!r} where {asked[position]!r} was due"
                )
            position += 1
            yield self._item(record, payload)

    def _received(self, response: httpx.Response) -> Iterator[bytes]:
        for chunk in response.iter_bytes():
            self._connection.throttle.consume(len(chunk))
            yield chunk

    def _item(self, record: ReadRecord, payload: SyncPayload) -> ReadItem:
        secret = self._connection.settings.api_key
        if record.status != 200:
            what = f"batch read {record.path}"
            error = error_for_status(record.status, record.error, "", what, "file", secret)
            return ReadItem(record.path, None, error)
        fields = {**record.to_json(), "type": "file"}
        entry = parse_entry(fields)
        item = ReadItem(record.path, entry, None)
        if payload.data is None:
            item._payload = payload
            return item
        hasher = hashlib.sha256(payload.data)
        try:
            _verify(record.path, entry, len(payload.data), hasher)
        except ProtocolViolation as exc:
            item.entry, item.error = None, exc
            return item
        item.data = payload.data
        return item

    def _finish(self, item: ReadItem) -> None:
        """After the caller is done with ``item``: skip what it left, stop if it broke."""
        if item._broken is not None:
            raise item._broken
        if item._payload is not None:
            payload, item._payload = item._payload, None
            try:
                payload.skip()
            except (httpx.HTTPError, RecordError) as exc:
                raise _mapped(exc, f"batch read {item.path}") from exc
