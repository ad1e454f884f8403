"""One Outcome per executed op: the summary and the exit code are computed from these.

1. A failed outcome holds its ``ItemError`` and a re-planned one its ``Replan``, so the
   title and the hint reach the user (``SyncdError.describe``), not only the message.
2. ``detail`` is the error's message when there is an error, else what the creator gave.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from syncd.errors import SyncdError
from syncd.planner.ops import Op
from syncd.planner.trees import BaseNode


class Status(StrEnum):
    DONE = "done"
    FAILED = "failed"
    REPLAN = "replan"


@dataclass
class Outcome:
    """What happened to one op.

    ``base_put`` / ``base_drop`` are the base changes observed after the op (never taken from
    the plan); the queue writes them in batches. ``conflict`` names a conflict copy made.
    ``error``: why a failed or re-planned op did not finish.
    """

    op: Op
    status: Status
    detail: str = ""
    bytes: int = 0
    base_put: list[BaseNode] = field(default_factory=list)
    base_drop: list[str] = field(default_factory=list)
    base_move: tuple[str, str] | None = None
    conflict: str | None = None
    error: SyncdError | None = None

    def __post_init__(self) -> None:
        if self.error is not None and not self.detail:
            self.detail = str(self.error)

    @property
    def path(self) -> str:
        return self.op.path

    @property
    def reason(self) -> str:
        """The one line a user reads for an op that did not finish: title, message, hint."""
        return self.error.describe() if self.error is not None else self.detail
