"""What a batch write (E5) is made of, and what becomes of each item: typed values only.

``WriteState`` is the whole story of one item: ``APPLIED`` (with the entry it left),
``REFUSED`` (``error`` is the typed error the single request would have had),
``NOT_SENT`` (its local file could not be read, or changed while it was read: try later),
``UNKNOWN`` (the answer was lost after the server may have applied it: re-plan the path
from a fresh listing or feed, never simply send it again).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import SyncdError
from syncd.transport.models import Entry


@dataclass(frozen=True, slots=True)
class PutFile:
    """Write the local file ``source`` at ``path`` (parents created)."""

    path: str
    source: Path
    if_revision: int | None = None  # the remote must be at this revision; 0: must not exist


@dataclass(frozen=True, slots=True)
class DeletePath:
    """Delete a file, or a directory with its contents."""

    path: str
    if_revision: int | None = None


@dataclass(frozen=True, slots=True)
class MakeDir:
    path: str


BatchItem = PutFile | DeletePath | MakeDir


class WriteState(enum.Enum):
    APPLIED = "applied"
    REFUSED = "refused"
    NOT_SENT = "not_sent"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class WriteResult:
    item: BatchItem
    state: WriteState
    entry: Entry | None = None  # the entry a put or mkdir left (APPLIED)
    error: SyncdError | None = None  # REFUSED, NOT_SENT

    @property
    def is_applied(self) -> bool:
        return self.state is WriteState.APPLIED


@dataclass(frozen=True, slots=True)
class BatchResult:
    revision: int | None  # the workspace's revision after the batch; None when unknown
    results: tuple[WriteResult, ...]

    @property
    def ambiguous(self) -> bool:
        return any(r.state is WriteState.UNKNOWN for r in self.results)
