"""What the disk holds at one workspace path, without following links (``syncd explain``).

1. One ``lstat``, never a read of the content: a symbolic link is described as a link
   (with its target), not as what it points to, as the scanner sees it.
2. Absent is an answer (``None``), also when an ancestor is a file; any other ``OSError``
   becomes an ``ItemError`` here, at the edge.
3. The nested ``.syncdignore`` files on the way to a path are read as the scanner reads
   them, so the rule that ignores a path can be named with its file.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import ItemError
from syncd.local.errors import item_error
from syncd.local.hashing import StatSig
from syncd.local.ignore import IGNORE_FILE, Ignore, read_rules
from syncd.paths import ancestors

ABSENT = (errno.ENOENT, errno.ENOTDIR)


@dataclass(frozen=True, slots=True)
class PathInfo:
    """One entry on disk. ``kind``: file, directory, symlink or other (device, pipe...)."""

    kind: str
    size: int
    mtime_ns: int
    inode: int
    ctime_ns: int
    link_target: str | None = None

    @property
    def sig(self) -> StatSig:
        return StatSig(self.size, self.mtime_ns, self.inode, self.ctime_ns)


def path_info(root: Path, rel_path: str) -> PathInfo | None:
    """The entry at ``rel_path`` below ``root``, or None when there is none."""
    full = root.joinpath(*rel_path.split("/"))
    try:
        st = os.lstat(full)
        target = os.readlink(full) if stat.S_ISLNK(st.st_mode) else None
    except OSError as exc:
        if exc.errno in ABSENT:
            return None
        raise item_error(exc, rel_path, "look at") from exc
    if stat.S_ISLNK(st.st_mode):
        kind = "symlink"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        kind = "other"
    return PathInfo(kind, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns, target)


def ignore_rules_for(root: Path, rel_path: str) -> tuple[Ignore, dict[str, str]]:
    """The rules that apply to ``rel_path``: the root file and every nested one in its
    ancestor folders, with each file's text by its folder ("" = root) to number lines."""
    texts: dict[str, str] = {}
    root_text = read_rules(root)
    ignore = Ignore.from_text(root_text)
    if root_text is not None:
        texts[""] = root_text
    for folder in ancestors(rel_path):
        nested = root.joinpath(*folder.split("/"), IGNORE_FILE)
        try:
            if not stat.S_ISREG(os.lstat(nested).st_mode):
                continue  # the scanner uses only a regular file, never a link
            text = nested.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            where = f"{folder}/{IGNORE_FILE}"
            raise ItemError(f"cannot use {where}: not UTF-8 text", path=where) from exc
        except OSError as exc:
            if exc.errno in ABSENT:
                continue
            raise item_error(exc, f"{folder}/{IGNORE_FILE}", "read") from exc
        ignore = ignore.with_folder(folder, text)
        texts[folder] = text
    return ignore, texts
