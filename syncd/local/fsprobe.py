"""What the local file system does to names: does it fold case, does it normalise Unicode.

1. ``probe`` finds out by creating a temp file of ours and looking it up under another
   spelling (upper case; NFD instead of NFC), never by guessing from the platform: an
   ext4 folder with casefold, a mounted FAT stick or an SMB share behave unlike their OS.
2. Every probe file is removed before ``probe`` returns; a crash leaves only a temp name
   of ours, which the clean-up of ``write.clean_temp_files`` removes.
3. The planner uses the answer to never create two names the disk would fold into one.
4. ``probe_read_only`` (``--dry-run``) writes nothing: it looks names already in the folder
   up under their other spelling, and gives the cautious answer (it folds) to a question
   no existing name can settle, as for a folder that cannot be written.
"""

from __future__ import annotations

import contextlib
import os
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from syncd.local.errors import item_error
from syncd.local.ignore import new_temp_name

__all__ = ["FsTraits", "probe", "probe_read_only"]

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


_READ_ONLY_LIMIT = 1000  # names looked at before the cautious answer is given


def _names(root: Path) -> Iterator[Path]:
    """Existing entries, the root's first, then each folder's below it (breadth first)."""
    folders = [root]
    while folders:
        folder = folders.pop(0)
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            yield Path(entry.path)
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))


def _other_case(name: str) -> str | None:
    """``name`` with its ASCII letters in the other case; None when it has none."""
    swapped = "".join(c.swapcase() if c.isascii() else c for c in name)
    return swapped if swapped != name else None


def _other_form(name: str) -> str | None:
    """``name`` in the other Unicode normal form; None when both spell it alike."""
    nfc = unicodedata.normalize("NFC", name)
    nfd = unicodedata.normalize("NFD", name)
    if nfc == nfd:
        return None
    return nfd if name == nfc else nfc


def probe_read_only(root: Path) -> FsTraits:
    """What ``probe`` finds, from the names already in the folder, writing nothing."""
    folds_case: bool | None = None
    folds_unicode: bool | None = None
    for count, path in enumerate(_names(root)):
        if count >= _READ_ONLY_LIMIT or (folds_case is not None and folds_unicode is not None):
            break
        if folds_case is None and (other := _other_case(path.name)) is not None:
            folds_case = _same_file(path, path.with_name(other))
        if folds_unicode is None and (other := _other_form(path.name)) is not None:
            folds_unicode = _same_file(path, path.with_name(other))
    return FsTraits(folds_case is not False, folds_unicode is not False)
