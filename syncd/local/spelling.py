"""Find a workspace path on disk whatever Unicode spelling the disk gave its names.

The state records paths as the server spells them (NFC); a folder that another program
made holds the same names in NFD (macOS, an unpacked archive). A check such as "does the
conflict copy still exist" must look for the name the disk has, or it would decide that
a file the user still has is gone.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path


def find_on_disk(root: Path, rel: str) -> Path | None:
    """``root / rel`` as the disk spells it, or None when nothing of that name is there.

    Each segment is taken as spelled when it exists (one ``lstat``, the common case), else
    the folder is listed for a name with the same NFC form. Links are not followed.
    """
    here = root
    for segment in rel.split("/"):
        exact = here / segment
        if os.path.lexists(exact):
            here = exact
            continue
        try:
            names = os.listdir(here)
        except OSError:
            return None
        wanted = unicodedata.normalize("NFC", segment)
        match = next((n for n in names if unicodedata.normalize("NFC", n) == wanted), None)
        if match is None:
            return None
        here = here / match
    return here


def exists_on_disk(root: Path, rel: str) -> bool:
    return find_on_disk(root, rel) is not None


def place_on_disk(root: Path, rel: str) -> Path:
    """Where ``rel`` is, or would go: a new name lands in its folder as the disk spells it."""
    found = find_on_disk(root, rel)
    if found is not None:
        return found
    folder, _, name = rel.rpartition("/")
    parent = find_on_disk(root, folder) if folder else root
    return (parent or root / folder) / name
