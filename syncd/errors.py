"""The one error tree of syncd: each class says what the caller should do next.

    SyncdError
    ├── UsageError              exit 2   bad flag, config or folder
    ├── ServerRefused           exit 3   retrying cannot help
    │   ├── Unauthorized
    │   └── WorkspaceNotFound
    ├── ServerUnreachable       exit 4   only after retries ran out
    │   ├── ServerProtocolError          an answer that breaks the protocol as a whole
    │   └── TlsFailed                    the certificate check failed; never retried
    ├── SafetyStop              exit 5   nothing was changed
    │   ├── MassDelete                   planner guard ``mass_delete``
    │   ├── RootVanished                 planner guard ``root_vanished``, or no folder
    │   └── RootUnreadable               (local/errors.py) the folder cannot be listed
    ├── Transient                        retry with backoff; ``ambiguous``: maybe applied
    │   ├── ServerBusy                   429, 503 (``retry_after``); never applied
    │   ├── ServerFault                  500, 502, 504; may have been applied
    │   └── ConnectionLost               refused (never applied), reset or timed out
    ├── Replan                           not a failure: plan that path again
    │   ├── PreconditionFailed           412
    │   ├── PathConflict                 409
    │   ├── FeedReset                    410
    │   └── OffsetMismatch               409 offset_mismatch (``offset``)
    └── ItemError               exit 1   one path cannot sync; reported, the rest goes on
        ├── InvalidPath
        ├── NotFound
        ├── TooLarge
        │   └── RecordLimit              (protocol/records.py) a batch stream too large
        ├── InvalidParameter
        │   └── RecordError ...          (protocol/records.py) a batch stream refused
        ├── ProtocolViolation
        ├── SourceChanged
        ├── LocalChanged                 (local/errors.py) a conflict, not an overwrite
        └── ContentMismatch              (local/errors.py)

1. Errors are translated at the edge, once: ``transport/`` maps httpx and error bodies,
   ``local/`` maps ``OSError``; nothing above them catches library exceptions.
2. Every error has a short ``title`` and, where the user can act, a ``hint``;
   ``describe`` is the one line that shows both. No message or repr carries an API key.
3. A refusal of the planner's guards is raised as the class ``REFUSALS`` names for its
   kind; the planner itself raises nothing.
4. Whether a failed request may have been applied is the class's ``ambiguous`` (or the
   constructor's, for ``ConnectionLost``), never a flag set afterwards.
5. Anything else that escapes is a bug, not one of these: the CLI and the daemon log it
   with its traceback.
"""

from __future__ import annotations

from collections.abc import Mapping


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

    def describe(self) -> str:
        """The one line a user reads: title, message and hint (``title: message (hint)``)."""
        text = f"{self.title}: {self.message}" if self.message else self.title
        return f"{text} ({self.hint})" if self.hint else text


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


class TlsFailed(ServerUnreachable):
    """The TLS handshake failed (an untrusted or mismatched certificate): retrying cannot
    cure it, so it is raised at once, naming the cause and the options that change it."""

    title = "TLS failure"


class SafetyStop(SyncdError):
    """Refused before changing anything because going on could lose data."""

    exit_code = 5
    title = "refused for safety"


class MassDelete(SafetyStop):
    """One sync would delete more files of one side than the threshold allows."""

    title = "mass delete refused"


class RootVanished(SafetyStop):
    """The folder, or its identity marker, is gone while the last sync saw files in it."""

    title = "local folder vanished"


REFUSALS: Mapping[str, type[SafetyStop]] = {
    "mass_delete": MassDelete,
    "root_vanished": RootVanished,
}
"""The planner's ``RefusalKind`` (by value) -> the class the reconciler raises for it."""


class Transient(SyncdError):
    """A fault that a retry with backoff may cure.

    ``ambiguous``: the request may have been applied although it failed, so a write that
    is not idempotent must not simply be sent again. The class says what is known of all
    its failures; a constructor argument says it for one failure where the class cannot.
    """

    exit_code = 4
    title = "transient failure"
    ambiguous: bool = False

    def __init__(
        self, message: str = "", *, hint: str | None = None, ambiguous: bool | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        if ambiguous is not None:
            self.ambiguous = ambiguous


class ServerBusy(Transient):
    """429 or 503: wait ``retry_after`` seconds (None when the server did not say).

    Never ambiguous: the server turned the request away before acting on it."""

    title = "server busy"

    def __init__(
        self, message: str = "", *, hint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, hint=hint, ambiguous=False)
        self.retry_after = retry_after


class ServerFault(Transient):
    """500, 502 or 504: the server failed, perhaps after applying the request; retry with
    backoff where that is safe."""

    title = "server fault"
    ambiguous = True


class ConnectionLost(Transient):
    """Connection refused, reset, timed out, or a body cut short.

    Ambiguous unless the connection was never made (give ``ambiguous=False`` then): a
    reset or a timeout after sending leaves open whether the server applied it."""

    title = "connection lost"
    ambiguous = True


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


class OffsetMismatch(Replan):
    """An upload chunk at the wrong offset; ``offset`` is where the server stands."""

    title = "offset mismatch"

    def __init__(self, message: str = "", *, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


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


class SourceChanged(ItemError):
    """The local file changed while it was read; its upload was dropped, try again later."""

    title = "file changed while uploading"
