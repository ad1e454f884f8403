"""Intents written before effects: the journal of planned and in-flight operations.

1. ``begin`` / ``begin_many`` / ``start`` commit the intent (``started``) before they
   return, so the worker acts only on an intent that survives a kill -9 or a power cut.
2. ``done`` / ``failed`` are cheap: they are buffered and written with the next intent
   commit, at ``flush()``, when the store closes, or at once when the caller is inside
   ``store.transaction()`` (so a worker commits the new base row and the completion
   together). Losing a buffered completion in a crash only makes ``pending()`` report
   that op as interrupted, and the reconciler then re-plans that path from observed
   facts: a lost completion costs a re-check, never a repeated effect.
3. ``pending()`` lists ops that were started and never finished. They tell the
   reconciler where a download may have left a temp file or a move may be half applied;
   they are facts to look at, never a script to replay (a delete is never re-executed
   from the journal).
4. Batching is the speed rule: one commit per group of ops, never one fsync per file.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from syncd.planner import ops as ops_module
from syncd.planner.ops import KeepBoth, Op
from syncd.state.schema import JournalStatus, now_iso
from syncd.state.store import Store

FLUSH_AT = 256
"""Buffered completions written at the latest when this many are waiting."""
INSERT_SLICE = 1000
"""Intents encoded and inserted at a time inside the one commit of ``begin_many``."""

OP_CLASSES: dict[str, type[Op]] = {
    name: cls
    for name, cls in vars(ops_module).items()
    if isinstance(cls, type) and issubclass(cls, Op)
}


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journalled op as stored; ``op()`` rebuilds the planner's value."""

    id: int
    op_kind: str
    path: str
    dest: str | None
    payload: dict[str, Any]
    status: JournalStatus
    planned_time: str
    started_time: str | None
    finished_time: str | None
    error: str | None

    def op(self) -> Op | None:
        """The op as planned; None when a newer syncd wrote a kind this one does not know."""
        cls = OP_CLASSES.get(self.op_kind)
        return None if cls is None else _build(cls, self.payload)


def encode_op(op: Op) -> tuple[str, str | None, str]:
    """(kind, dest, payload JSON) of an op: every field, nested nodes included."""
    dest = op.conflict_path if isinstance(op, KeepBoth) else getattr(op, "dest", None)
    payload = json.dumps(_fields(op), default=_jsonable, sort_keys=True)
    return type(op).__name__, dest or None, payload


def _fields(value: object) -> dict[str, Any]:
    """A dataclass's fields by name, one level deep: ``json`` calls ``_jsonable`` for the
    nested ones. The same JSON as ``dataclasses.asdict``, without its deep copy of every
    value, which cost more than the rest of journalling an op."""
    return {name: getattr(value, name) for name in _field_names(type(value))}


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def decode_op(kind: str, payload: str | dict[str, Any]) -> Op:
    """The inverse of ``encode_op``; ``KeyError`` for an unknown kind."""
    data = json.loads(payload) if isinstance(payload, str) else payload
    return _build(OP_CLASSES[kind], data)


class Journal:
    """The write-ahead record of what the worker is about to do. Thread-safe."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._finished: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        store.on_close(self.flush)

    def begin_many(self, ops: Iterable[Op]) -> list[int]:
        """Record ops as ``started`` in one commit: the batch costs one fsync."""
        return self._insert(ops, JournalStatus.STARTED)

    def done(self, entry_id: int) -> None:
        """The effect happened and was observed (buffered, see the module docstring)."""
        self._finish(
            {"id": entry_id, "status": JournalStatus.DONE.value, "finished_time": now_iso()}
        )

    def failed(self, entry_id: int, reason: str) -> None:
        """The worker gave up on this op; ``reason`` is one line, no secrets."""
        self._finish(
            {
                "id": entry_id,
                "status": JournalStatus.FAILED.value,
                "finished_time": now_iso(),
                "error": reason,
            }
        )

    def finish_many(self, results: Iterable[tuple[int, str | None]]) -> None:
        """Many completions at once: ``(entry, None)`` is done, ``(entry, why)`` failed.

        Inside ``store.transaction()`` they commit with the caller's writes (the worker's
        base rows), so one commit closes a whole group of ops.
        """
        when = now_iso()
        done, failed = JournalStatus.DONE.value, JournalStatus.FAILED.value
        rows = [
            (done, when, None, entry) if why is None else (failed, when, why, entry)
            for entry, why in results
        ]
        with self._store.transaction():
            self._store.journal_rows.update(self._take())
            self._store.journal_rows.finish(rows)

    def flush(self) -> None:
        """Write every buffered completion now (one commit)."""
        rows = self._take()
        if rows:
            self._store.journal_rows.update(rows)

    def pending(self) -> list[JournalEntry]:
        """Ops started and never finished: interrupted by a crash, oldest first."""
        self.flush()
        return self._entries([JournalStatus.STARTED])

    def settle(self, ids: Iterable[int], reason: str = "interrupted; re-planned") -> None:
        """Close interrupted entries once the reconciler has looked at their paths."""
        when = now_iso()
        rows = [
            {"id": i, "status": JournalStatus.FAILED.value, "finished_time": when, "error": reason}
            for i in ids
        ]
        with self._store.transaction():
            self._store.journal_rows.update(self._take() + rows)

    def prune(self) -> int:
        """Drop finished entries (done and failed) and say how many; call after a sync."""
        self.flush()
        return self._store.journal_rows.delete([JournalStatus.DONE, JournalStatus.FAILED])

    def finish_sync(self, *, full: bool) -> None:
        """A sync ended with its worker idle: close what it looked at, drop finished rows.

        A full sync planned every path from observed facts, so the entries a crash left
        ``started`` before it are settled; a scoped sync settles nothing outside its
        scope. Finished rows are then dropped, so the journal holds only what is open and
        ``syncd status`` (another process) never shows a finished op as pending.
        """
        if full:
            self.settle(e.id for e in self.pending())
        self.prune()

    def close(self) -> None:
        self.flush()

    # -- internals -----------------------------------------------------------------------

    def _insert(self, ops: Iterable[Op], status: JournalStatus) -> list[int]:
        """One commit for all of ``ops``, encoded and inserted ``INSERT_SLICE`` at a time:
        the rows and statement parameters of a plan of 100,000 uploads were the peak
        of a first sync (~100 MiB), and a slice bounds them."""
        when = now_iso()
        started = when if status is JournalStatus.STARTED else None
        ids: list[int] = []
        pending = iter(ops)
        with self._store.transaction():
            self._store.journal_rows.update(self._take())
            while chunk := list(itertools.islice(pending, INSERT_SLICE)):
                rows = []
                for op in chunk:
                    kind, dest, payload = encode_op(op)
                    rows.append(
                        {
                            "op_kind": kind,
                            "path": op.path,
                            "dest": dest,
                            "payload": payload,
                            "status": status.value,
                            "planned_time": when,
                            "started_time": started,
                        }
                    )
                ids += self._store.journal_rows.insert(rows)
        return ids

    def _finish(self, row: dict[str, Any]) -> None:
        if self._store.in_transaction():
            self._store.journal_rows.update([row])
            return
        with self._lock:
            self._finished.append(row)
            full = len(self._finished) >= FLUSH_AT
        if full:
            self.flush()

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            rows, self._finished = self._finished, []
        return rows

    def _entries(self, statuses: list[JournalStatus]) -> list[JournalEntry]:
        return [
            JournalEntry(
                id=r["id"],
                op_kind=r["op_kind"],
                path=r["path"],
                dest=r["dest"],
                payload=json.loads(r["payload"]),
                status=JournalStatus(r["status"]),
                planned_time=r["planned_time"],
                started_time=r["started_time"],
                finished_time=r["finished_time"],
                error=r["error"],
            )
            for r in self._store.journal_rows.with_status([s.value for s in statuses])
        ]


def _jsonable(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _fields(value)
    if isinstance(value, frozenset | set):
        return sorted(value)
    raise TypeError(f"cannot journal a {type(value).__name__}")


def _build(cls: type, data: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: _coerce(hints[k], v) for k, v in data.items() if k in fields})


def _coerce(hint: Any, value: Any) -> Any:
    """Turn a JSON value back into the type a dataclass field declares."""
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(inner[0], value) if len(inner) == 1 else value
    if origin in (frozenset, tuple, list):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        items = [_coerce(args[0], v) for v in value] if args else list(value)
        return origin(items)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return value
