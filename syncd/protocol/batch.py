"""The records of E5 (batch writes) and E6 (batch reads): parsed strictly, written canonically.

1. ``parse_write`` turns one line of an E5 request into a ``PutRecord``, ``DeleteRecord``
   or ``MkdirRecord``; ``parse_read`` one line of an E6 answer into a ``ReadRecord``. Each
   path comes back NFC (``syncd.paths.normalize``), so the decoder's duplicate check sees
   an NFD spelling as the same path.
2. Unknown keys are ignored (forward compatibility), but a field of another op is refused:
   a condition that the op cannot honour must not be dropped silently, and a ``size`` on
   a record without payload would desynchronise the stream.
3. Integers are never booleans; revisions and sizes are never negative.
4. ``to_json`` writes exactly the fields that are set, so ``parse(to_json(r)) == r``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from syncd.errors import InvalidPath
from syncd.paths import normalize
from syncd.protocol.records import BadField, DuplicatePath, RecordLimit, UnknownOp

HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
MAX_INT = (1 << 63) - 1
_CONDITIONS = ("if_match", "if_none_match")


def _path(obj: Mapping[str, Any]) -> str:
    value = obj.get("path")
    if not isinstance(value, str):
        raise BadField("path must be a string")
    try:
        return normalize(value)
    except InvalidPath as exc:
        raise BadField(f"{exc}: {value!r}") from exc


def _count(obj: Mapping[str, Any], key: str, *, required: bool) -> int | None:
    value = obj.get(key)
    if value is None and not required and key not in obj:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
        raise BadField(f"{key} must be a non-negative integer")
    return value


def _hash(obj: Mapping[str, Any], *, required: bool) -> str | None:
    if "hash" not in obj and not required:
        return None
    value = obj.get("hash")
    if not isinstance(value, str) or not HASH_RE.match(value):
        raise BadField('hash must be "sha256:<64 lowercase hex digits>"')
    return value


def _refuse(obj: Mapping[str, Any], op: str, keys: Sequence[str]) -> None:
    for key in keys:
        if key in obj:
            raise BadField(f"{op} takes no {key}")


@dataclass(frozen=True, slots=True)
class PutRecord:
    """Write ``size`` bytes at ``path``, as PUT (parents created)."""

    path: str
    size: int
    hash: str | None = None  # "sha256:<hex>" the bytes must have
    if_match: int | None = None  # the entry must be at this revision
    if_none_match: bool = False  # the entry must not exist

    @property
    def payload_size(self) -> int:
        return self.size

    @property
    def is_conditional(self) -> bool:
        return self.if_match is not None or self.if_none_match

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"op": "put", "path": self.path, "size": self.size}
        if self.hash is not None:
            body["hash"] = self.hash
        if self.if_match is not None:
            body["if_match"] = self.if_match
        if self.if_none_match:
            body["if_none_match"] = "*"
        return body


@dataclass(frozen=True, slots=True)
class DeleteRecord:
    """Delete a file, or a directory with its contents, as DELETE."""

    path: str
    if_match: int | None = None

    payload_size = 0

    @property
    def is_conditional(self) -> bool:
        return self.if_match is not None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"op": "delete", "path": self.path}
        if self.if_match is not None:
            body["if_match"] = self.if_match
        return body


@dataclass(frozen=True, slots=True)
class MkdirRecord:
    """Create a directory and its parents, as the ``mkdir`` op."""

    path: str

    payload_size = 0
    is_conditional = False

    def to_json(self) -> dict[str, Any]:
        return {"op": "mkdir", "path": self.path}


WriteRecord = PutRecord | DeleteRecord | MkdirRecord


def parse_write(obj: Mapping[str, Any]) -> WriteRecord:
    """One record of an E5 request (PROMISES 1-3)."""
    op = obj.get("op")
    if not isinstance(op, str):
        raise BadField("op must be a string")
    if op == "put":
        if_none = obj.get("if_none_match")
        if "if_none_match" in obj and if_none != "*":
            raise BadField('if_none_match must be "*"')
        return PutRecord(
            path=_path(obj),
            size=_count(obj, "size", required=True),  # type: ignore[arg-type]
            hash=_hash(obj, required=False),
            if_match=_count(obj, "if_match", required=False),
            if_none_match=if_none == "*",
        )
    if op == "delete":
        _refuse(obj, op, ("size", "hash", "if_none_match"))
        return DeleteRecord(_path(obj), _count(obj, "if_match", required=False))
    if op == "mkdir":
        _refuse(obj, op, ("size", "hash", *_CONDITIONS))
        return MkdirRecord(_path(obj))
    raise UnknownOp(f"unknown op {op[:40]!r}")


@dataclass(frozen=True, slots=True)
class ReadRecord:
    """One path of an E6 answer: a file's metadata (``status`` 200) or why there is none."""

    path: str
    status: int
    size: int | None = None
    revision: int | None = None
    hash: str | None = None
    modified_time: str | None = None
    error: str | None = None  # the error code when status is not 200

    @property
    def payload_size(self) -> int:
        return (self.size or 0) if self.status == 200 else 0

    def to_json(self) -> dict[str, Any]:
        if self.status != 200:
            return {"path": self.path, "status": self.status, "error": self.error}
        return {
            "path": self.path,
            "status": 200,
            "size": self.size,
            "revision": self.revision,
            "hash": self.hash,
            "modified_time": self.modified_time,
        }


def parse_read(obj: Mapping[str, Any]) -> ReadRecord:
    """One record of an E6 answer; a status other than 200 carries no payload."""
    path = _path(obj)
    status = obj.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BadField("status must be an HTTP status")
    if status != 200:
        error = obj.get("error")
        if not isinstance(error, str):
            raise BadField("a record without content needs an error code")
        return ReadRecord(path, status, error=error)
    modified = obj.get("modified_time")
    if not isinstance(modified, str):
        raise BadField("modified_time must be a string")
    return ReadRecord(
        path,
        200,
        size=_count(obj, "size", required=True),
        revision=_count(obj, "revision", required=True),
        hash=_hash(obj, required=True),
        modified_time=modified,
    )


def read_request(paths: Sequence[str]) -> dict[str, list[str]]:
    """The JSON body of an E6 request."""
    return {"paths": list(paths)}


def parse_read_request(body: Mapping[str, Any], max_items: int) -> list[str]:
    """The NFC paths of an E6 request: 1 to ``max_items`` (else 413), valid, none twice."""
    paths = body.get("paths")
    if not isinstance(paths, list) or not paths:
        raise BadField("paths must be a non-empty list of paths")
    if len(paths) > max_items:
        raise RecordLimit(f"more than {max_items} paths")
    found: list[str] = []
    seen: set[str] = set()
    for raw in paths:
        path = _path({"path": raw})
        if path in seen:
            raise DuplicatePath(f"{path!r} appears twice")
        seen.add(path)
        found.append(path)
    return found
