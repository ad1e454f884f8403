"""Typed answers of the wire protocol (PROTOCOL.md): the transport parses, nothing above it.

1. Every parser takes decoded JSON and returns a frozen value, or raises
   ``ProtocolViolation`` naming what was wrong; extra keys are tolerated (forward
   compatibility), missing or mistyped ones are not.
2. Every path a server sends goes through ``syncd.paths.normalize``; in a listing or a
   feed page one bad entry is set aside in ``rejected`` so it cannot stop the rest.
3. Values never call back into the network.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncd.errors import InvalidPath, ProtocolViolation
from syncd.paths import normalize
from syncd.planner.trees import Kind, RemoteNode

_HASH_RE = re.compile(r"^sha256:[0-9a-f]{64}$")

Rejected = tuple[str, str]  # (raw path as received, why it was refused)


def _field(obj: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], what: str) -> Any:
    if key not in obj:
        raise ProtocolViolation(f"{what}: missing key {key!r}")
    value = obj[key]
    # bool is an int subclass: a JSON true is never a valid count or revision.
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise ProtocolViolation(f"{what}: {key!r} has the wrong type")
    if not isinstance(value, kinds):
        raise ProtocolViolation(f"{what}: {key!r} has the wrong type")
    return value


def _object(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise ProtocolViolation(f"{what}: expected a JSON object")
    return data


def _time(value: str | None, what: str, key: str) -> str | None:
    """Check an ISO 8601 time (``Z`` accepted) and hand it on unchanged."""
    if value is None:
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError as exc:
        raise ProtocolViolation(f"{what}: {key!r} is not an ISO 8601 time") from exc
    return value


def _count(obj: Mapping[str, Any], key: str, what: str, *, optional: bool = False) -> int | None:
    kinds: tuple[type, ...] = (int, type(None)) if optional else (int,)
    value = _field(obj, key, kinds, what)
    if value is not None and value < 0:
        raise ProtocolViolation(f"{what}: {key!r} is negative")
    return value


@dataclass(frozen=True, slots=True)
class Entry:
    """One file or directory of a workspace; ``revision``/``hash`` only with E1."""

    path: str
    type: Kind
    size: int | None
    modified_time: str | None
    revision: int | None = None
    hash: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.type is Kind.DIR

    def to_remote_node(self) -> RemoteNode:
        return RemoteNode(
            path=self.path,
            kind=self.type,
            size=self.size,
            modified_time=self.modified_time,
            revision=self.revision,
            hash=self.hash,
        )


def parse_entry(data: Any) -> Entry:
    """A ``WorkspaceEntryResponse`` (plus E1 fields); the path comes back NFC-normalised."""
    obj = _object(data, "entry")
    raw = _field(obj, "path", str, "entry")
    try:
        path = normalize(raw)
    except InvalidPath as exc:
        raise ProtocolViolation(f"entry path refused: {exc}", path=repr(raw)) from exc
    what = f"entry {path!r}"
    try:
        kind = Kind(_field(obj, "type", str, what))
    except ValueError as exc:
        raise ProtocolViolation(f"{what}: unknown type") from exc
    size = _count(obj, "size", what, optional=True)
    modified = _time(_field(obj, "modified_time", (str, type(None)), what), what, "modified_time")
    if kind is Kind.FILE and (size is None or modified is None):
        raise ProtocolViolation(f"{what}: a file needs size and modified_time")
    if kind is Kind.DIR and size is not None:
        raise ProtocolViolation(f"{what}: a directory has no size")
    revision = _count(obj, "revision", what, optional=True) if "revision" in obj else None
    digest = obj.get("hash")
    if digest is not None and (not isinstance(digest, str) or not _HASH_RE.match(digest)):
        raise ProtocolViolation(f"{what}: hash is not 'sha256:<hex>'")
    return Entry(path, kind, size, modified, revision, digest)


def _raw_path(item: Any) -> str:
    if isinstance(item, dict) and isinstance(item.get("path"), str):
        return item["path"]
    return reprlib.repr(item)[:200]  # bounded: a deeply nested item cannot blow the stack


def parse_entries(items: Any, what: str) -> tuple[list[Entry], list[Rejected]]:
    """Parse a list of entries, setting aside each one that breaks the rules."""
    if not isinstance(items, list):
        raise ProtocolViolation(f"{what}: expected a list")
    entries: list[Entry] = []
    rejected: list[Rejected] = []
    for item in items:
        try:
            entries.append(parse_entry(item))
        except ProtocolViolation as exc:
            rejected.append((_raw_path(item), str(exc)))
    return entries, rejected


class ListResult(list[Entry]):
    """A full listing: a plain list of entries, plus ``rejected`` (raw_path, reason)."""

    def __init__(self, entries: list[Entry], rejected: list[Rejected] | None = None) -> None:
        super().__init__(entries)
        self.rejected: list[Rejected] = list(rejected or [])


def parse_listing(data: Any) -> ListResult:
    obj = _object(data, "listing")
    entries, rejected = parse_entries(_field(obj, "entries", list, "listing"), "listing")
    return ListResult(entries, rejected)


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    tag: str
    create_time: str
    last_active_day: str | None
    total_active_days: int


def parse_account(data: Any) -> Account:
    obj = _object(data, "account")
    return Account(
        id=_field(obj, "id", str, "account"),
        tag=_field(obj, "tag", str, "account"),
        create_time=_time(_field(obj, "create_time", str, "account"), "account", "create_time")
        or "",
        last_active_day=_field(obj, "last_active_day", (str, type(None)), "account"),
        total_active_days=_count(obj, "total_active_days", "account") or 0,
    )


@dataclass(frozen=True, slots=True)
class Workspace:
    id: str
    name: str
    size: int
    create_time: str
    modified_time: str


def parse_workspace(data: Any) -> Workspace:
    obj = _object(data, "workspace")
    what = "workspace"
    return Workspace(
        id=_field(obj, "id", str, what),
        name=_field(obj, "name", str, what),
        size=_count(obj, "size", what) or 0,
        create_time=_time(_field(obj, "create_time", str, what), what, "create_time") or "",
        modified_time=_time(_field(obj, "modified_time", str, what), what, "modified_time") or "",
    )


def parse_workspaces(data: Any) -> list[Workspace]:
    obj = _object(data, "workspaces")
    return [parse_workspace(w) for w in _field(obj, "workspaces", list, "workspaces")]


@dataclass(frozen=True, slots=True)
class Deleted:
    path: str
    type: Kind
    revision: int


@dataclass(frozen=True, slots=True)
class ChangesPage:
    """One page of the E2 feed; call again from ``end_revision`` while ``has_more``."""

    end_revision: int
    created: list[Entry]
    updated: list[Entry]
    deleted: list[Deleted]
    has_more: bool
    rejected: list[Rejected] = field(default_factory=list)


def _parse_deleted(item: Any) -> Deleted:
    obj = _object(item, "deleted entry")
    raw = _field(obj, "path", str, "deleted entry")
    try:
        path = normalize(raw)
    except InvalidPath as exc:
        raise ProtocolViolation(f"deleted path refused: {exc}", path=repr(raw)) from exc
    try:
        kind = Kind(_field(obj, "type", str, "deleted entry"))
    except ValueError as exc:
        raise ProtocolViolation("deleted entry: unknown type") from exc
    return Deleted(path, kind, _count(obj, "revision", "deleted entry") or 0)


def parse_changes(data: Any) -> ChangesPage:
    obj = _object(data, "changes")
    created, rejected = parse_entries(_field(obj, "created", list, "changes"), "created")
    updated, rejected_u = parse_entries(_field(obj, "updated", list, "changes"), "updated")
    deleted: list[Deleted] = []
    for item in _field(obj, "deleted", list, "changes"):
        try:
            deleted.append(_parse_deleted(item))
        except ProtocolViolation as exc:
            rejected_u.append((_raw_path(item), str(exc)))
    return ChangesPage(
        end_revision=_count(obj, "end_revision", "changes") or 0,
        created=created,
        updated=updated,
        deleted=deleted,
        has_more=_field(obj, "has_more", bool, "changes"),
        rejected=rejected + rejected_u,
    )


@dataclass(frozen=True, slots=True)
class UploadSession:
    upload_id: str
    offset: int
    chunk_size: int
    expires_time: str


def parse_upload_session(data: Any) -> UploadSession:
    obj = _object(data, "upload session")
    what = "upload session"
    chunk = _count(obj, "chunk_size", what) or 0
    if chunk <= 0:
        raise ProtocolViolation(f"{what}: chunk_size must be positive")
    return UploadSession(
        upload_id=_field(obj, "upload_id", str, what),
        offset=_count(obj, "offset", what) or 0,
        chunk_size=chunk,
        expires_time=_time(_field(obj, "expires_time", str, what), what, "expires_time") or "",
    )


def parse_offset(data: Any) -> int:
    """The ``{"offset": N}`` answer of a chunk PUT (and of a session GET)."""
    return _count(_object(data, "upload offset"), "offset", "upload offset") or 0


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """E5/E6: the most records (or paths) and payload bytes one batch may carry."""

    max_items: int
    max_bytes: int


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the server offers beyond the base API (PROTOCOL.md, Extensions)."""

    changes: bool
    uploads: bool
    conditional: bool
    hashes: str | None
    max_body: int | None
    batch: BatchLimits | None = None  # None: no batch writes or reads (E5, E6)

    @classmethod
    def base_only(cls) -> Capabilities:
        return cls(changes=False, uploads=False, conditional=False, hashes=None, max_body=None)

    @property
    def is_base_only(self) -> bool:
        return not (self.changes or self.uploads or self.conditional or self.hashes)


def parse_capabilities(data: Any) -> Capabilities:
    obj = _object(data, "capabilities")
    what = "capabilities"

    def flag(key: str) -> bool:
        return bool(_field(obj, key, bool, what)) if key in obj else False

    hashes = obj.get("hashes")
    if hashes is not None and not isinstance(hashes, str):
        raise ProtocolViolation(f"{what}: 'hashes' has the wrong type")
    max_body = _count(obj, "max_body", what, optional=True) if "max_body" in obj else None
    batch = None
    if obj.get("batch") is not None:
        limits = _object(obj["batch"], f"{what} batch")
        items = _count(limits, "max_items", f"{what} batch")
        size = _count(limits, "max_bytes", f"{what} batch")
        if not items or not size:
            raise ProtocolViolation(f"{what}: batch limits must be positive")
        batch = BatchLimits(items, size)
    return Capabilities(
        flag("changes"), flag("uploads"), flag("conditional"), hashes, max_body, batch
    )


@dataclass(frozen=True, slots=True)
class DownloadResult:
    size: int
    hash: str  # "sha256:<hex>" of the bytes written
    revision: int | None  # from the ETag, when the server sends one (E1)


@dataclass(frozen=True, slots=True)
class UploadResult:
    size: int
    hash: str  # "sha256:<hex>" of the bytes read and sent
    entry: Entry | None  # the committed entry when the server answers one (E3 commit)
