"""The downloads area: large downloads are staged under the state directory, so a partial
one survives a restart and is continued with ``Range`` instead of started again.

1. A download is staged here only when it is worth resuming and can be checked: a file of
   at least ``RESUME_MIN_SIZE`` whose hash the server announced, on the folder's device
   (the finished file is renamed into place, never copied). Anything else is written to a
   temp name beside its target, as before.
2. Each partial (``<key>.part``) has a record (``<key>.json``: path, announced hash and
   size, and the ETag its bytes came with), written before the first byte is. A partial
   is continued only when its record still matches what the plan expects; otherwise it is
   dropped and the file comes whole. The finished file is still checked for size and hash
   before it is installed.
3. The area is bounded: ``prune`` drops every partial a sync no longer needs (its path was
   synced otherwise, deleted, or finished) and any older than ``MAX_AGE``. The area is
   outside the folder, so neither the scanner nor the watcher ever sees it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from syncd.local.ignore import new_temp_name
from syncd.planner.trees import RemoteNode

__all__ = ["MAX_AGE", "RESUME_MIN_SIZE", "Downloads", "Staged"]

RESUME_MIN_SIZE = 4 * 1024 * 1024  # below this a restart costs less than keeping track
MAX_AGE = 7 * 24 * 3600.0  # seconds a partial may wait for its download to go on


@dataclass
class Staged:
    """Where one download is written, and the ETag of the bytes already there (if any)."""

    part: Path
    record: Path
    path: str
    hash: str
    size: int
    resume_etag: str | None = None

    def remember(self, etag: str) -> None:
        """Record the ETag of the bytes about to be written, before the first of them.

        No fsync: after a power cut the final hash check is what refuses bad bytes.
        """
        body = {"path": self.path, "hash": self.hash, "size": self.size, "etag": etag}
        temp = self.record.with_name(new_temp_name())
        temp.write_text(json.dumps(body), encoding="utf-8")
        os.replace(temp, self.record)

    def settle(self) -> None:
        """After a failed download: a partial is kept only together with its record."""
        with contextlib.suppress(OSError):
            if not self.part.exists():
                self.record.unlink(missing_ok=True)
            elif not self.record.exists():
                self.part.unlink(missing_ok=True)

    def discard(self) -> None:
        """Forget the partial (installed, refused, or of another version)."""
        with contextlib.suppress(OSError):
            self.part.unlink(missing_ok=True)
            self.record.unlink(missing_ok=True)


class Downloads:
    """The downloads folder under the state directory (never inside the synced folder)."""

    def __init__(self, dir: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.dir = Path(dir)
        self._clock = clock

    def __repr__(self) -> str:
        return f"Downloads({str(self.dir)!r})"

    def stage(self, path: str, remote: RemoteNode, target_dir: Path) -> Staged | None:
        """The slot for downloading ``remote`` to ``target_dir``, continuing a partial that
        still matches it; None when the download is not staged here (promise 1)."""
        if remote.hash is None or remote.size is None or remote.size < RESUME_MIN_SIZE:
            return None
        try:
            if os.stat(self.dir.parent).st_dev != os.stat(target_dir).st_dev:
                return None
            self.dir.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            return None
        key = hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        staged = Staged(self.dir / f"{key}.part", self.dir / f"{key}.json", path, *_want(remote))
        known = _read(staged.record) or {}
        try:
            have: int | None = staged.part.stat().st_size
        except FileNotFoundError:
            have = None
        same = (known.get("path"), known.get("hash"), known.get("size")) == (
            path,
            remote.hash,
            remote.size,
        )
        etag = known.get("etag")
        if same and isinstance(etag, str) and have is not None and have <= remote.size:
            staged.resume_etag = etag
        else:
            staged.discard()  # another version, or half a slot: the file comes whole
        return staged

    def prune(self, keep: Callable[[str], bool]) -> list[str]:
        """Drop every partial whose path ``keep`` rejects, any older than ``MAX_AGE``, and
        any half slot (a part without its record or the reverse); return the paths dropped."""
        if not self.dir.is_dir():
            return []
        cutoff = self._clock() - MAX_AGE
        dropped: list[str] = []
        for entry in sorted(self.dir.iterdir()):
            stem, suffix = entry.stem, entry.suffix
            if suffix == ".json":
                known = _read(entry)
                part = entry.with_suffix(".part")
                path = known.get("path") if known else None
                try:
                    fresh = max(entry.stat().st_mtime, part.stat().st_mtime) >= cutoff
                except FileNotFoundError:
                    fresh = False
                if isinstance(path, str) and fresh and keep(path):
                    continue
                part.unlink(missing_ok=True)
                entry.unlink(missing_ok=True)
                dropped.append(path if isinstance(path, str) else stem)
            elif suffix == ".part" and not entry.with_suffix(".json").exists():
                entry.unlink(missing_ok=True)
            elif suffix not in (".part", ".json"):
                with contextlib.suppress(OSError):
                    entry.unlink()  # a record's temp left by a crash
        return dropped


def _want(remote: RemoteNode) -> tuple[str, int]:
    assert remote.hash is not None and remote.size is not None
    return remote.hash, remote.size


def _read(record: Path) -> dict | None:
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
