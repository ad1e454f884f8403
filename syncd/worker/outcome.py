"""One Outcome per executed op: the summary and the exit code are computed from these."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

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
    """

    op: Op
    status: Status
    detail: str = ""
    bytes: int = 0
    base_put: list[BaseNode] = field(default_factory=list)
    base_drop: list[str] = field(default_factory=list)
    base_move: tuple[str, str] | None = None
    conflict: str | None = None

    @property
    def path(self) -> str:
        return self.op.path
