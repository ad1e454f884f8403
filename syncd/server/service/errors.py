"""The server's refusals: one class per wire code, raised by the service and route modules.

    ServerError                  500 internal (never sent with its message)
      InvalidParameter           400 invalid_parameter   malformed path, body or query
      Unauthorized               401 unauthorized
      NotFound                   404 not_found           workspace, entry, upload session
      Conflict                   409 conflict
      OffsetMismatch             409 offset_mismatch     carries the server's ``offset``
      RevisionObsoleted          410 revision_obsoleted
      PreconditionFailed         412 precondition_failed
      TooLarge                   413 too_large

1. Each class knows its wire code and status; ``app.py`` turns any of them into the
   ``{"error", "message"}`` answer in one handler, and a batch result uses the same pair.
2. These are the server's own: the client's error tree (``syncd.errors``) is never raised
   here. ``shared_rules`` is the one place that translates the refusals of the modules
   the server shares with the client (the path rules of ``syncd.paths``, the record
   stream of ``syncd.protocol``) into this tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from syncd.errors import InvalidPath  # what the shared path rules raise
from syncd.paths import normalize
from syncd.protocol.errors import STATUS, WireCode
from syncd.protocol.records import RecordError, RecordLimit


class ServerError(Exception):
    """A refusal with its wire code; the base class itself is a server fault (500)."""

    code: WireCode = WireCode.INTERNAL

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message or self.code.value.replace("_", " ")

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def wire_extra(self) -> dict[str, Any]:
        """Fields of the error body beyond ``error`` and ``message``."""
        return {}


class InvalidParameter(ServerError):
    code = WireCode.INVALID_PARAMETER


class Unauthorized(ServerError):
    code = WireCode.UNAUTHORIZED


class NotFound(ServerError):
    code = WireCode.NOT_FOUND


class Conflict(ServerError):
    code = WireCode.CONFLICT


class OffsetMismatch(ServerError):
    code = WireCode.OFFSET_MISMATCH

    def __init__(self, message: str = "", *, offset: int) -> None:
        super().__init__(message)
        self.offset = offset

    def wire_extra(self) -> dict[str, Any]:
        return {"offset": self.offset}


class RevisionObsoleted(ServerError):
    code = WireCode.REVISION_OBSOLETED


class PreconditionFailed(ServerError):
    code = WireCode.PRECONDITION_FAILED


class TooLarge(ServerError):
    code = WireCode.TOO_LARGE


@contextmanager
def shared_rules() -> Iterator[None]:
    """Refusals of the path rules and the record stream, raised again as server errors."""
    try:
        yield
    except RecordLimit as exc:
        raise TooLarge(str(exc)) from exc
    except (RecordError, InvalidPath) as exc:
        raise InvalidParameter(str(exc)) from exc


def workspace_path(path: str | bytes) -> str:
    """The NFC spelling of a path from a request; ``InvalidParameter`` if it breaks a rule."""
    with shared_rules():
        return normalize(path)
