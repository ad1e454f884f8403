"""The one error tree of syncd: each class says what the caller should do next.

    SyncdError
      UsageError          exit 2   bad flag, config or folder
      ServerRefused       exit 3   Unauthorized, WorkspaceNotFound
      ServerUnreachable   exit 4   only after retries ran out
        ServerProtocolError        an answer that breaks the protocol as a whole
      SafetyStop          exit 5   MassDelete, RootVanished; nothing was changed
      Transient                    retry with backoff: ServerBusy(retry_after), ConnectionLost
      Replan                       not a failure: PreconditionFailed, PathConflict, FeedReset
      ItemError           exit 1   one path cannot sync; reported, the rest goes on

1. Errors are translated at the edge, once: ``transport/`` maps httpx and error bodies,
   ``local/`` maps ``OSError``; nothing above them catches library exceptions.
2. No message or repr carries an API key.
"""

from __future__ import annotations


class SyncdError(Exception):
    """Base of every error syncd raises on purpose."""

    exit_code: int = 1
    title: str = "error"
    status: int | None = None  # the HTTP status, when the error came from a server answer
    code: str | None = None  # the protocol's error code, likewise

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message or self.title


class UsageError(SyncdError):
    """Bad flag, configuration file, URL or local folder."""

    exit_code = 2
    title = "usage error"


class ServerRefused(SyncdError):
    """The server refused us for good; retrying cannot help."""

    exit_code = 3
    title = "server refused"


class Unauthorized(ServerRefused):
    title = "unauthorized"


class WorkspaceNotFound(ServerRefused):
    title = "workspace not found"


class ServerUnreachable(SyncdError):
    """The server could not be reached, or kept failing after every retry."""

    exit_code = 4
    title = "server unreachable"


class ServerProtocolError(ServerUnreachable):
    """An answer that breaks the protocol as a whole: a listing or feed page that cannot be
    parsed or contradicts itself, a feed that does not advance. Nothing can be planned on
    it, so the run stops before changing anything; a later run asks again."""

    title = "protocol error"


class SafetyStop(SyncdError):
    """Refused before changing anything because going on could lose data."""

    exit_code = 5
    title = "refused for safety"


class MassDelete(SafetyStop):
    title = "mass delete refused"


class RootVanished(SafetyStop):
    title = "local folder vanished"


class Transient(SyncdError):
    """A fault that a retry with backoff may cure."""

    exit_code = 4
    title = "transient failure"


class ServerBusy(Transient):
    """429 or 503: wait ``retry_after`` seconds (None when the server did not say)."""

    title = "server busy"

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerFault(Transient):
    """500, 502 or 504: the server failed; retry with backoff."""

    title = "server fault"


class ConnectionLost(Transient):
    """Connection refused, reset, timed out, or a body cut short."""

    title = "connection lost"


class Replan(SyncdError):
    """Not a failure: the world changed under the plan; plan that path again."""

    exit_code = 1
    title = "re-plan"


class PreconditionFailed(Replan):
    """A conditional write lost a race (412)."""

    title = "precondition failed"


class PathConflict(Replan):
    """409 conflict: a file where a directory is needed, or a move onto an existing path."""

    title = "path conflict"


class FeedReset(Replan):
    """410 revision_obsoleted: the cursor is gone; reset to revision 0 and merge."""

    title = "feed reset"


class ItemError(SyncdError):
    """One path cannot be synced; it is reported and the rest goes on."""

    exit_code = 1
    title = "item error"

    def __init__(self, message: str = "", *, path: str | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.path = path


class InvalidPath(ItemError):
    """A path that breaks the rules of PROTOCOL.md (General)."""

    title = "invalid path"


class NotFound(ItemError):
    """404 for a file or an upload session (context decides what it means)."""

    title = "not found"


class TooLarge(ItemError):
    """413: the body is larger than the server accepts."""

    title = "too large"


class InvalidParameter(ItemError):
    """400 invalid_parameter for anything but a path rule we check ourselves."""

    title = "invalid parameter"


class ProtocolViolation(ItemError):
    """The server answered something that is not the protocol (malformed JSON, wrong shape)."""

    title = "protocol violation"


class OffsetMismatch(Replan):
    """An upload chunk at the wrong offset; ``offset`` is where the server stands."""

    title = "offset mismatch"

    def __init__(self, message: str = "", *, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class SourceChanged(ItemError):
    """The local file changed while it was read; its upload was dropped, try again later."""

    title = "file changed while uploading"
