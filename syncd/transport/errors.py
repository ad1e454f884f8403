"""Translate HTTP answers and httpx failures into the one error tree (``syncd.errors``).

1. This is the only place that knows status codes and error codes; above the transport
   callers see ``Unauthorized``, ``PathConflict``, ``ServerBusy``... never ``httpx``.
2. Every raised error carries ``status`` and ``code`` attributes and the server's message,
   with the API key scrubbed out in every spelling (``secret.py``; a hostile server could
   echo it), then trimmed, so a cut can never leave part of the key behind.
3. Whether the request may have been applied (a reset after sending, a 500) or surely was
   not (refused connection, 429, 503) is the ``ambiguous`` of the ``Transient`` made here
   (``syncd.errors``); the retry policy reads it with ``is_ambiguous``.
4. JSON is decoded here only: an answer that is not JSON, or nested deeper than the
   decoder can follow, is a ``ProtocolViolation``; ``parse_answer`` makes it (and any other
   violation of an answer everything else depends on) a ``ServerProtocolError``.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from typing import Literal, TypeVar

import httpx

from syncd.errors import (
    ConnectionLost,
    FeedReset,
    InvalidParameter,
    NotFound,
    OffsetMismatch,
    PathConflict,
    PreconditionFailed,
    ProtocolViolation,
    ServerBusy,
    ServerFault,
    ServerProtocolError,
    SyncdError,
    TlsFailed,
    TooLarge,
    Transient,
    Unauthorized,
    WorkspaceNotFound,
)
from syncd.protocol.errors import WireCode
from syncd.transport.secret import redact

__all__ = ["error_for_exception", "error_for_response", "parse_answer", "parse_json", "redact"]

Context = Literal["account", "workspace", "file", "upload", "feed", "other"]
T = TypeVar("T")

MAX_MESSAGE = 300


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds only; a date or junk counts as absent)."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def _body(response: httpx.Response) -> dict[str, object]:
    try:
        data = json.loads(response.content or b"null")
    except (ValueError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _tag(exc: SyncdError, status: int, code: str | None) -> SyncdError:
    exc.status = status
    exc.code = code
    return exc


def error_for_response(
    response: httpx.Response, what: str, context: Context, secret: str | None
) -> SyncdError:
    """The typed error for a non-2xx answer; ``what`` is e.g. ``"PUT a/b.txt"``."""
    body = _body(response)
    code = body.get("error") if isinstance(body.get("error"), str) else None
    raw_message = body.get("message") if isinstance(body.get("message"), str) else ""
    return error_for_status(
        response.status_code,
        code,  # type: ignore[arg-type]
        str(raw_message),
        what,
        context,
        secret,
        retry_after=_retry_after(response),
        offset=body.get("offset"),
        location=response.headers.get("location"),
    )


def error_for_status(
    status: int,
    code: str | None,
    raw_message: str,
    what: str,
    context: Context,
    secret: str | None,
    *,
    retry_after: float | None = None,
    offset: object = None,
    location: str | None = None,
) -> SyncdError:
    """The typed error for a status and error code: of an answer, or of one batch record."""
    message = redact(raw_message, secret)[:MAX_MESSAGE]
    text = f"{what}: {status} {code or 'error'}" + (f": {message}" if message else "")
    exc: SyncdError
    if status == 401:
        exc = Unauthorized(text, hint="check the API key")
    elif status == 404:
        if context in ("workspace", "feed"):
            exc = WorkspaceNotFound(text, hint="check the workspace id and the account")
        else:
            exc = NotFound(text)
    elif status == 409 and code == WireCode.OFFSET_MISMATCH:
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            exc = ProtocolViolation(f"{text} (no valid 'offset' in the answer)")
        else:
            exc = OffsetMismatch(text, offset=offset)
    elif status == 409:
        exc = PathConflict(text)
    elif status == 410:
        exc = FeedReset(text)
    elif status == 412:
        exc = PreconditionFailed(text)
    elif status == 413:
        exc = TooLarge(text)
    elif status in (400, 405, 416, 422):
        exc = InvalidParameter(text)
    elif status in (429, 503):
        exc = ServerBusy(text, retry_after=retry_after)
    elif status >= 500:
        exc = ServerFault(text)
    elif 300 <= status < 400:
        target = redact(location or "elsewhere", secret)[:MAX_MESSAGE]
        exc = ProtocolViolation(f"{what}: the server redirects ({status}) to {target}")
    else:
        exc = ProtocolViolation(f"{what}: unexpected status {status}")
    return _tag(exc, status, code)


def error_for_exception(exc: httpx.HTTPError, what: str, secret: str | None) -> SyncdError:
    """Map an httpx transport failure; only a failed connect is known not to have been sent."""
    detail = redact(str(exc) or type(exc).__name__, secret)[:MAX_MESSAGE]
    tls = _tls_cause(exc)
    if tls is not None:
        reason = redact(getattr(tls, "verify_message", None) or tls.reason or str(tls), secret)
        return TlsFailed(
            f"{what}: TLS certificate check failed: {reason}",
            hint="trust the server's CA with --ca-bundle; --no-verify-tls only for testing",
        )
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return ConnectionLost(f"{what}: cannot connect: {detail}", ambiguous=False)
    if isinstance(exc, httpx.LocalProtocolError):  # our request cannot be sent: no retry helps
        return ProtocolViolation(f"{what}: cannot send the request: {detail}")
    if isinstance(exc, httpx.TimeoutException):
        return ConnectionLost(f"{what}: timed out: {detail}", ambiguous=True)
    if isinstance(exc, httpx.TransportError | httpx.DecodingError | httpx.StreamError):
        return ConnectionLost(f"{what}: connection lost: {detail}", ambiguous=True)
    return ProtocolViolation(f"{what}: {detail}")


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    """The certificate failure behind an httpx error, if that is what it is: only a
    verification failure, which no retry cures (a handshake cut short is a lost
    connection and is retried)."""
    seen: BaseException | None = exc
    for _ in range(8):  # httpx -> httpcore -> ssl; bounded against a cycle
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def is_ambiguous(exc: BaseException) -> bool:
    """True when a failed request may still have been applied by the server: only a
    ``Transient`` is ever retried, so only its ``ambiguous`` counts."""
    return isinstance(exc, Transient) and exc.ambiguous


def parse_json(response: httpx.Response, what: str) -> object:
    """The JSON body of a 2xx answer, or ``ProtocolViolation`` when it is not JSON."""
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise ProtocolViolation(f"{what}: the answer is not valid JSON") from exc
    except RecursionError as exc:  # a hostile answer like [[[[...]]]]: not a traceback
        raise ProtocolViolation(f"{what}: the answer is JSON nested too deeply") from exc


def parse_answer(response: httpx.Response, what: str, parse: Callable[[object], T]) -> T:
    """``parse`` of the JSON body of an answer the rest of the run depends on (a listing,
    a feed page, the workspaces, the capabilities): any violation is a
    ``ServerProtocolError``, which stops the run before anything is planned on it."""
    try:
        return parse(parse_json(response, what))
    except ProtocolViolation as exc:
        message = str(exc) if str(exc).startswith(what) else f"{what}: {exc}"
        raise ServerProtocolError(
            message, hint="the server does not speak the syncd protocol correctly"
        ) from exc
