"""The local side of the engine: facts about the folder in, careful changes to it out.

    scan.py     scandir + hash cache -> ScanResult (tree, problems, unknown, new hashes)
    hashing.py  sha256 in 1 MiB blocks; StatSig says when to hash again
    ignore.py   .syncdignore (gitignore syntax) + built-in ignores + our temp names
    write.py    temp file -> fsync -> verify -> rename, only over what the plan saw
    trash.py    every local delete or overwrite lands here first
    downloads.py  large downloads staged under the state dir, continued after a restart
    root.py     the folder's identity marker; fsprobe.py: does the disk fold names

1. Every ``OSError`` becomes a ``syncd.errors`` class here (``local/errors.py``).
2. Unreadable is never "deleted": it is reported and its path is unknown for the cycle.
"""

from syncd.local.errors import ContentMismatch, LocalChanged, RootUnreadable
from syncd.local.fsprobe import FsTraits, probe
from syncd.local.hashing import StatSig, hash_file, hash_file_stable
from syncd.local.ignore import TEMP_PREFIX, Ignore, is_temp_name
from syncd.local.root import MARKER_NAME, RootStatus, check_root, ensure_marker
from syncd.local.scan import HashCache, HashRecord, Problem, ScanResult
from syncd.local.trash import Trash

__all__ = [
    "MARKER_NAME",
    "TEMP_PREFIX",
    "ContentMismatch",
    "FsTraits",
    "HashCache",
    "HashRecord",
    "Ignore",
    "LocalChanged",
    "Problem",
    "RootStatus",
    "RootUnreadable",
    "ScanResult",
    "StatSig",
    "Trash",
    "check_root",
    "ensure_marker",
    "hash_file",
    "hash_file_stable",
    "is_temp_name",
    "probe",
]
