"""Cut one phase of a Plan into units of work: single ops, E5 write groups, E6 read groups.

1. A phase's ops touch disjoint paths (``planner/plan.py``), so its units may run in any
   order and at the same time; phases themselves run one after the other.
2. Only small plain files are grouped (below ``Batching.threshold``), and only on a server
   with batches, conditional writes and hashes: each record then carries the condition
   the single request would have carried, and every read is checked against a hash.
3. A write group keeps the plan's order of its ops (E5 applies records in order); groups
   are cut to the server's limits and to sizes that keep several groups in flight.
4. Everything else (large files, folders deleted whole, conflicts, local ops) is a unit
   of one op, run exactly as without batches; ``RecordBase`` / ``ForgetBase`` touch
   nothing but the state and run inline.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from syncd.local.downloads import RESUME_MIN_SIZE
from syncd.planner import ops
from syncd.planner.trees import Kind

DEFAULT_THRESHOLD = 1 << 20  # files below this size travel in batches
GROUP_ITEMS = 200  # records per batch, at most: small enough to keep batches in flight
GROUP_BYTES = 8 << 20  # payload bytes per batch, at most (what every batch server takes)
MIN_ITEMS = 16  # never cut a batch smaller than this just to have more in flight


class UnitKind(enum.Enum):
    INLINE = "inline"  # state only: no I/O
    SINGLE = "single"  # one op, one executor of worker/ops.py
    WRITE = "write"  # an E5 batch of puts, deletes and mkdirs
    READ = "read"  # an E6 batch of small downloads


@dataclass(frozen=True, slots=True)
class Unit:
    """Some ops of one phase that run together: ``indices`` into the phase, in order."""

    kind: UnitKind
    indices: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Batching:
    """When the worker batches, and how much; a OpContext without one never batches."""

    threshold: int = DEFAULT_THRESHOLD
    max_items: int = 1000
    max_bytes: int = 64 << 20
    in_flight: int = 4

    @classmethod
    def for_server(cls, caps: object, threshold: int, in_flight: int = 4) -> Batching | None:
        """The batching a server allows; None without E5/E6, E4 or hashes (or threshold 0),
        so a base-only server keeps one request per file."""
        limits = getattr(caps, "batch", None)
        if limits is None or threshold <= 0:
            return None
        if not getattr(caps, "conditional", False) or not getattr(caps, "hashes", None):
            return None
        return cls(threshold, limits.max_items, limits.max_bytes, max(1, in_flight))

    def takes_write(self, op: ops.Op) -> bool:
        """A put, delete or mkdir that can be one record, conditional as its request."""
        if isinstance(op, ops.MkdirRemote):
            return True
        if isinstance(op, ops.Upload):
            local, remote = op.local, op.remote
            if local is None or local.kind is not Kind.FILE or local.size is None:
                return False
            if remote is not None and (remote.kind is not Kind.FILE or remote.revision is None):
                return False
            return local.size < self.threshold
        if isinstance(op, ops.DeleteRemote):
            remote = op.remote
            return remote is not None and remote.kind is Kind.FILE and remote.revision is not None
        return False

    def takes_read(self, op: ops.Op) -> bool:
        """A download of a small file whose hash is known (a large one stays resumable)."""
        if not isinstance(op, ops.Download):
            return False
        remote, local = op.remote, op.local
        if remote is None or remote.kind is not Kind.FILE:
            return False
        if remote.hash is None or remote.size is None:
            return False
        if local is not None and local.kind is not Kind.FILE:
            return False
        return remote.size < min(self.threshold, RESUME_MIN_SIZE)


INLINE_OPS = (ops.RecordBase, ops.ForgetBase)


def cut(
    phase: Sequence[ops.Op], batching: Batching | None, links: Collection[str] = ()
) -> list[Unit]:
    """The units of one phase (PROMISES 1-4): batches first, then single ops. A download
    onto a followed link (``links``) stays single: it keeps the link (``worker/links.py``)."""
    writes: list[int] = []
    reads: list[int] = []
    singles: list[Unit] = []
    for index, op in enumerate(phase):
        if isinstance(op, INLINE_OPS):
            singles.append(Unit(UnitKind.INLINE, (index,)))
        elif batching is not None and batching.takes_write(op):
            writes.append(index)
        elif batching is not None and batching.takes_read(op) and op.path not in links:
            reads.append(index)
        else:
            singles.append(Unit(UnitKind.SINGLE, (index,)))
    units: list[Unit] = []
    if batching is not None:
        units += _groups(UnitKind.WRITE, writes, phase, batching)
        units += _groups(UnitKind.READ, reads, phase, batching)
    return units + singles


def _size(op: ops.Op) -> int:
    if isinstance(op, ops.Upload) and op.local is not None:
        return op.local.size or 0
    if isinstance(op, ops.Download) and op.remote is not None:
        return op.remote.size or 0
    return 0


def _groups(
    kind: UnitKind, indices: list[int], phase: Sequence[ops.Op], batching: Batching
) -> list[Unit]:
    """Consecutive groups of about equal size: within the limits, and enough of them to
    keep ``in_flight`` batches going when there are many ops."""
    if not indices:
        return []
    items = min(batching.max_items, GROUP_ITEMS)
    budget = min(batching.max_bytes, GROUP_BYTES)
    total = sum(_size(phase[i]) for i in indices)
    count = max(
        math.ceil(len(indices) / items),
        math.ceil(total / budget),
        min(batching.in_flight, len(indices) // MIN_ITEMS),
        1,
    )
    per_group = min(items, math.ceil(len(indices) / count))
    units: list[Unit] = []
    current: list[int] = []
    nbytes = 0
    for index in indices:
        size = _size(phase[index])
        if current and (len(current) >= per_group or nbytes + size > budget):
            units.append(Unit(kind, tuple(current)))
            current, nbytes = [], 0
        current.append(index)
        nbytes += size
    if current:
        units.append(Unit(kind, tuple(current)))
    return units
