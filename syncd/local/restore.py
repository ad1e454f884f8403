"""Bring a trashed version back into the folder, never over anything that is there.

The trashed copy stays in the trash (restoring copies it), and each file is written to a
temp file, fsynced, then hard-linked into place: the link fails if a name appeared
meanwhile, so an existing file always keeps its place and the restored version takes a
conflict-style name beside it, ``NAME (restored copy WHEN).EXT``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from syncd.local.ignore import TEMP_PREFIX
from syncd.local.trash import TrashEntry, fsync_dir, make_dirs_durably

__all__ = ["restore_entry"]


def _beside(target: Path, label: str, counter: int) -> Path:
    name = target.name
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    tag = label if counter == 1 else f"{label} {counter}"
    return target.with_name(f"{stem} ({tag}){ext}")


def _place(temp: Path, target: Path, label: str) -> Path:
    """Link ``temp`` at ``target`` or, when taken, at the first free restored-copy name."""
    candidate, counter = target, 0
    while True:
        try:
            os.link(temp, candidate)
            return candidate
        except FileExistsError:
            counter += 1
            candidate = _beside(target, label, counter)


def restore_file(source: Path, target: Path, label: str) -> Path:
    """Copy one trashed file to ``target`` (or a free name beside it); return where it went."""
    make_dirs_durably(target.parent)
    temp = target.parent / f"{TEMP_PREFIX}restore-{secrets.token_hex(4)}"
    try:
        shutil.copy2(source, temp, follow_symlinks=False)
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        placed = _place(temp, target, label)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(target.parent)
    return placed


def restore_entry(
    files: list[TrashEntry], path: str, dest: Path, label: str
) -> list[tuple[TrashEntry, Path]]:
    """Restore the trashed ``files`` that were at or under ``path`` to ``dest`` (same shape)."""
    done: list[tuple[TrashEntry, Path]] = []
    for item in files:
        below = item.rel_path[len(path) :].lstrip("/")
        target = dest.joinpath(*below.split("/")) if below else dest
        if item.path.is_dir() and not item.path.is_symlink():
            make_dirs_durably(target)
            done.append((item, target))
        else:
            done.append((item, restore_file(item.path, target, label)))
    return done
