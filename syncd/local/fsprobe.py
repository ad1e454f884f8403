"""What the local file system does to names: does it fold case, does it normalise Unicode.

1. ``probe`` finds out by creating a temp file of ours and looking it up under another
   spelling (upper case; NFD instead of NFC), never by guessing from the platform: an
   ext4 folder with casefold, a mounted FAT stick or an SMB share behave unlike their OS.
2. Every probe file is removed before ``probe`` returns; a crash leaves only a temp name
   of ours, which the clean-up of ``write.clean_temp_files`` removes.
3. The planner uses the answer to never create two names the disk would fold into one.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from syncd.local.errors import item_error
from syncd.local.ignore import new_temp_name

__all__ = ["FsTraits", "probe"]

_NFC_E = "\u00e9"  # é as one code point
_NFD_E = "e\u0301"  # é as e + combining acute accent


@dataclass(frozen=True, slots=True)
class FsTraits:
    """``folds_case``: ``a`` and ``A`` name one file. ``folds_unicode``: NFC and NFD do."""

    folds_case: bool
    folds_unicode: bool


def _same_file(created: Path, other: Path) -> bool:
    try:
        return os.path.samestat(os.lstat(created), os.lstat(other))
    except FileNotFoundError:
        return False


def _probe_one(root: Path, created_suffix: str, other_suffix: str) -> bool:
    stem = new_temp_name()
    created, other = root / f"{stem}-{created_suffix}", root / f"{stem}-{other_suffix}"
    fd = os.open(created, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    try:
        return _same_file(created, other)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(created)


def probe(root: Path) -> FsTraits:
    """Probe the folder's file system; raises ``ItemError`` when the folder is not writable
    (the caller may then assume the cautious answer: both folds)."""
    try:
        return FsTraits(
            folds_case=_probe_one(root, "probe-a", "PROBE-A"),
            folds_unicode=_probe_one(root, f"probe-{_NFC_E}", f"probe-{_NFD_E}"),
        )
    except OSError as exc:
        raise item_error(exc, ".", "probe the file system of") from exc
