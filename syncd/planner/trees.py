"""The three trees the planner compares: values only, no I/O.

1. Every tree is keyed by the NFC workspace path (``syncd.paths.normalize``).
2. ``LocalNode`` is what the disk holds now, ``RemoteNode`` what the server says now,
   ``BaseNode`` what both sides agreed on at the last successful sync of that path.
3. A ``None`` hash means "not known yet"; the planner asks for it with a ``Need``
   instead of guessing.
4. Paths and hashes read into a tree go through ``shared``, so the local, remote and base
   nodes of one file and its hash cache entry hold one string each, not four copies
   (a hundred thousand files: ~60 MiB less).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

shared = sys.intern
"""The one interned copy of a string: equal strings, one object (``x and shared(x)`` for a
column that may be NULL). Interned strings are freed with their last reference, so the
trees of a pass cost nothing once the pass drops them. ``sys.intern`` itself, not a
wrapper: it runs once per path and hash of every tree, and a Python call would double it."""


class Kind(StrEnum):
    FILE = "file"
    DIR = "directory"


@dataclass(frozen=True, slots=True)
class LocalNode:
    """A local file or directory as the scanner saw it.

    ``disk_name`` is the path as spelled on disk when that differs from the NFC key
    (an NFD name written by another program); ``None`` when it is the key itself.
    """

    path: str
    kind: Kind
    size: int | None = None
    mtime_ns: int | None = None
    inode: int | None = None
    hash: str | None = None
    disk_name: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.kind is Kind.DIR


@dataclass(frozen=True, slots=True)
class RemoteNode:
    """A server entry. ``revision`` and ``hash`` are None on a base-only server (no E1)."""

    path: str
    kind: Kind
    size: int | None = None
    modified_time: str | None = None
    revision: int | None = None
    hash: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.kind is Kind.DIR


@dataclass(frozen=True, slots=True)
class BaseNode:
    """The last state both sides agreed on, with the facts of each side at that moment.

    The local facts (size, mtime_ns, inode) tell whether the disk changed since; the
    remote facts (revision, or size + modified_time on a base-only server) tell whether
    the server changed since. ``hash`` is the content both sides had.
    """

    path: str
    kind: Kind
    size: int | None = None
    hash: str | None = None
    local_mtime_ns: int | None = None
    local_inode: int | None = None
    remote_revision: int | None = None
    remote_modified_time: str | None = None

    @property
    def is_dir(self) -> bool:
        return self.kind is Kind.DIR


LocalTree = Mapping[str, LocalNode]
RemoteTree = Mapping[str, RemoteNode]
BaseTree = Mapping[str, BaseNode]
