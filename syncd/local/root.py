"""The identity of the local folder: a marker file in it, and its id kept in the state.

1. ``ensure_marker`` writes ``.syncd-root`` (a random folder id) once, atomically, and
   returns the id; the caller stores the id in the state database.
2. ``check_root`` compares the folder with the stored id. Anything but ``OK`` while the
   base holds files means the folder is not the one we synced (an unmounted disk shows an
   empty mount point, a renamed or replaced folder lacks the marker or has another id):
   the sync refuses with exit 5 instead of turning the absence into remote deletes.
3. The marker is ignored by the scanner, so it is never uploaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from enum import StrEnum
from pathlib import Path

from syncd.errors import ItemError, RootVanished, UsageError
from syncd.local.errors import RootUnreadable, item_error
from syncd.local.ignore import MARKER_NAME, is_builtin_ignored, new_temp_name
from syncd.local.trash import fsync_dir

__all__ = [
    "MARKER_NAME",
    "RootStatus",
    "check_root",
    "ensure_marker",
    "read_marker",
    "refuse_unless_ok",
]


class RootStatus(StrEnum):
    OK = "ok"
    MISSING = "missing"  # no folder at that path (or not a folder)
    MARKER_MISSING = "marker_missing"  # the folder has content but not our marker
    MARKER_MISMATCH = "marker_mismatch"  # the marker names another folder
    EMPTY = "empty"  # no marker and nothing else: typically an unmounted disk


_MESSAGES = {
    RootStatus.MISSING: ("the local folder is missing", "is the disk mounted?"),
    RootStatus.MARKER_MISSING: (
        f"the local folder has lost its {MARKER_NAME} marker; it may have been replaced",
        f"if this is the right folder, run the sync again after restoring {MARKER_NAME}",
    ),
    RootStatus.MARKER_MISMATCH: (
        "the local folder is not the one synced before (its marker has another id)",
        "check --dir, or use a new --state-dir to sync this folder from scratch",
    ),
    RootStatus.EMPTY: (
        "the local folder is empty, but it held files at the last sync",
        "is the disk mounted? nothing was deleted anywhere",
    ),
}


def read_marker(root: Path) -> str | None:
    """The folder id in the marker, or None when there is no marker.

    A marker that is not ours to parse raises ``UsageError``, never None: guessing
    "absent" could let a sync adopt the wrong folder.
    """
    try:
        raw = (root / MARKER_NAME).read_bytes()
    except FileNotFoundError:
        return None
    except (NotADirectoryError, IsADirectoryError) as exc:
        raise UsageError(f"{MARKER_NAME} is not a marker file", hint="remove it") from exc
    except OSError as exc:
        raise item_error(exc, MARKER_NAME, "read") from exc
    try:
        folder_id = json.loads(raw.decode("utf-8"))["folder_id"]
    except (ValueError, KeyError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        raise UsageError(
            f"the {MARKER_NAME} marker is damaged", hint="remove it to sync as a new folder"
        ) from exc
    if not isinstance(folder_id, str) or not folder_id:
        raise UsageError(f"the {MARKER_NAME} marker is damaged", hint="remove it")
    return folder_id


def ensure_marker(root: Path) -> str:
    """Return the folder id, writing a new marker first if there is none.

    The marker is written to a temp name, fsynced and linked into place, so a crash
    leaves either no marker or a whole one, and two writers cannot both win.
    """
    existing = read_marker(root)
    if existing is not None:
        return existing
    folder_id = uuid.uuid4().hex
    body = json.dumps({"folder_id": folder_id, "note": "syncd folder marker; keep it"}) + "\n"
    temp = root / new_temp_name()
    try:
        with open(temp, "x", encoding="utf-8") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, root / MARKER_NAME)
        except FileExistsError:
            return read_marker(root) or folder_id
        except OSError:
            os.replace(temp, root / MARKER_NAME)  # no hard links on this file system
        fsync_dir(root)
    except OSError as exc:
        raise item_error(exc, MARKER_NAME, "write") from exc
    finally:
        with contextlib.suppress(OSError):  # a leftover is removed by the next clean-up
            os.unlink(temp)
    return folder_id


def _has_content(root: Path) -> bool:
    with os.scandir(root) as it:
        return any(not is_builtin_ignored(e.name) for e in it)


def check_root(root: Path, expected_id: str | None) -> RootStatus:
    """Is ``root`` the folder whose marker id is ``expected_id``? (None: never synced.)"""
    if not root.is_dir():
        return RootStatus.MISSING
    try:
        found = read_marker(root)
        if expected_id is None:
            return RootStatus.OK
        if found is None:
            return RootStatus.MARKER_MISSING if _has_content(root) else RootStatus.EMPTY
    except OSError as exc:
        raise RootUnreadable(f"cannot read the local folder: {exc.strerror}") from exc
    except ItemError as exc:
        raise RootUnreadable(f"cannot read the local folder: {exc.message}") from exc
    return RootStatus.OK if found == expected_id else RootStatus.MARKER_MISMATCH


def refuse_unless_ok(status: RootStatus) -> None:
    """Raise ``RootVanished`` (exit 5, nothing changed) for every status but ``OK``."""
    if status is not RootStatus.OK:
        message, hint = _MESSAGES[status]
        raise RootVanished(message, hint=hint)
