"""Which local paths are not synced: ``.syncdignore`` rules plus a short built-in list.

1. ``.syncdignore`` uses gitignore syntax (pathspec's ``GitIgnoreSpec``), in the root and,
   optionally, in any folder (its patterns are relative to that folder; deeper files win,
   as in git). ``.syncdignore`` itself is synced, so every client shares the rules.
2. Built-in ignores cover only names that hold no user data: our own temp files, the
   folder marker, and lock or metadata files that editors and operating systems recreate
   on their own. Anything that may be a user's only copy of something is synced.
3. An ignored directory is not descended into, and nothing below it can be re-included
   (git's rule), so ``matches`` checks the ancestors of a path too.
4. Rules are values: whoever runs for long (the daemon) reads the root file again with
   ``read_rules`` before each pass and swaps in ``Ignore.from_text`` when it changed; the
   scanner reads the nested files on every scan.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.errors import UsageError
from syncd.local.errors import item_error

if TYPE_CHECKING:
    from pathspec import GitIgnoreSpec

IGNORE_FILE = ".syncdignore"
MARKER_NAME = ".syncd-root"
TEMP_PREFIX = ".syncd-tmp-"

# Our temp names are TEMP_PREFIX + 16 hex digits (+ an optional suffix used by the probe);
# only names of exactly this shape are ever removed by the crash cleanup.
_TEMP_RE = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{16}(?:-[^/]*)?\Z")

# (pattern on the last name, why it is safe to skip). None of these is user data.
BUILTIN_PATTERNS: tuple[tuple[str, str], ...] = (
    (re.escape(TEMP_PREFIX) + r".*", "our own temp files: half-written downloads, probes"),
    (r"\.~lock\..*#", "LibreOffice lock files: user, host and time of whoever has it open"),
    (r"~\$.*", "Microsoft Office owner files: the name of whoever has the document open"),
    (r"\..*\.sw[a-px]", "vim swap files and its .swx write probe; vim recreates them"),
    (r"\.#.*", "Emacs lock files (symlinks naming the editing user and process)"),
    (r"\.DS_Store", "macOS Finder view settings, rewritten whenever a folder is opened"),
    (r"Thumbs\.db", "Windows Explorer thumbnail cache, rebuilt from the images"),
    (r"\.fuse_hidden[0-9A-Fa-f]+", "FUSE placeholder of a file deleted while still open"),
    (r"\.nfs[0-9A-Fa-f]{16,}", "NFS placeholder of a file deleted while still open"),
)
# Deliberately NOT ignored, because they may be a user's only copy of something:
# ``*.part`` / ``*.crdownload`` (partial downloads, but also names users pick), ``*~`` and
# ``*.bak`` (backups), ``#*#`` (Emacs auto-save, the data of a crashed session), ``._*``
# (AppleDouble: resource forks and tags), ``*.tmp``, ``desktop.ini`` (folder settings).
_BUILTIN_RE = re.compile(
    "(?:" + "|".join(f"(?:{p})" for p, _ in BUILTIN_PATTERNS) + r")\Z", re.DOTALL
)

__all__ = [
    "BUILTIN_PATTERNS",
    "IGNORE_FILE",
    "MARKER_NAME",
    "TEMP_PREFIX",
    "Ignore",
    "IgnoreMatch",
    "is_builtin_ignored",
    "is_builtin_name",
    "is_our_temp_file",
    "is_temp_name",
    "new_temp_name",
    "read_rules",
    "rule_line",
]


def is_temp_name(name: str) -> bool:
    """True for a name in our temp namespace (the scanner and the watcher skip these)."""
    return name.startswith(TEMP_PREFIX)


def is_our_temp_file(name: str) -> bool:
    """True only for names ``new_temp_name`` makes: the sole names the crash cleanup deletes."""
    return _TEMP_RE.match(name) is not None


def new_temp_name(suffix: str = "") -> str:
    """A fresh temp name of ours; ``suffix`` (no ``/``) lets the probe make related names."""
    return f"{TEMP_PREFIX}{secrets.token_hex(8)}{'-' + suffix if suffix else ''}"


BUILTIN_FIRST = ".~T"
"""The first characters of every built-in name: most names skip the pattern at once."""


def is_builtin_name(name: str, *, at_root: bool) -> bool:
    """``is_builtin_ignored`` for one name, for the scanner's hot loop."""
    if name[:1] not in BUILTIN_FIRST:
        return False
    return (at_root and name == MARKER_NAME) or _BUILTIN_RE.match(name) is not None


def is_builtin_ignored(rel_path: str) -> bool:
    """True when the built-in list skips this path (the marker only at the top level)."""
    if rel_path == MARKER_NAME:
        return True
    name = rel_path.rpartition("/")[2]
    return _BUILTIN_RE.match(name) is not None


def _compile(lines: Iterable[str], source: str) -> GitIgnoreSpec:
    from pathspec import GitIgnoreSpec  # here: a folder without rules never loads pathspec

    try:
        return GitIgnoreSpec.from_lines(list(lines))
    except ValueError as exc:
        raise UsageError(
            f"invalid pattern in {source}: {exc}", hint="fix or remove that line"
        ) from exc


def read_rules(root: Path) -> str | None:
    """The text of the root ``.syncdignore`` (None when there is none). An unreadable file
    raises, because syncing without the user's rules could upload what they excluded."""
    try:
        return (root / IGNORE_FILE).read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise item_error(exc, IGNORE_FILE, "read") from exc


@dataclass(frozen=True, slots=True)
class IgnoreMatch:
    """Which rule ignores a path, for ``syncd explain``.

    ``path`` is the path the rule matched: the one asked about, or an ancestor folder
    (nothing below an ignored folder is synced). ``source`` is the ``.syncdignore`` that
    holds the rule, or ``built-in``; ``index`` the rule's place among that file's
    patterns (its non-empty lines, see ``rule_line``); ``why`` what a built-in name is.
    """

    path: str
    source: str
    pattern: str | None = None
    index: int | None = None
    why: str | None = None


def rule_line(text: str, index: int) -> int | None:
    """The 1-based line of the ``index``-th pattern of a ``.syncdignore`` with this text
    (pathspec makes one pattern per non-empty line, comments included)."""
    seen = -1
    for number, line in enumerate(text.splitlines(), start=1):
        if line:
            seen += 1
            if seen == index:
                return number
    return None


def _builtin_match(rel_path: str) -> IgnoreMatch | None:
    if rel_path == MARKER_NAME:
        return IgnoreMatch(rel_path, "built-in", why="syncd's marker of this folder")
    name = rel_path.rpartition("/")[2]
    for pattern, why in BUILTIN_PATTERNS:
        if re.fullmatch(pattern, name, re.DOTALL):
            return IgnoreMatch(rel_path, "built-in", why=why)
    return None


@dataclass(frozen=True)
class Ignore:
    """The ignore rules of one folder. ``specs`` maps a folder ("" = root) to its rules."""

    specs: dict[str, GitIgnoreSpec] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path) -> Ignore:
        """Read the root ``.syncdignore`` (absent: built-ins only). An unreadable or invalid
        file raises, because syncing without the user's rules could upload what they
        excluded."""
        return cls.from_text(read_rules(root))

    @classmethod
    def from_text(cls, text: str | None) -> Ignore:
        """The rules of a root ``.syncdignore`` with this text (None: built-ins only)."""
        if text is None:
            return cls()
        return cls({"": _compile(text.splitlines(), IGNORE_FILE)})

    @classmethod
    def from_lines(cls, lines: Iterable[str], folder: str = "") -> Ignore:
        """Rules given as text (tests, config); ``folder`` scopes them like a nested file."""
        return cls({folder: _compile(lines, f"{folder}/{IGNORE_FILE}".lstrip("/"))})

    def with_folder(self, folder: str, text: str) -> Ignore:
        """These rules plus a nested ``.syncdignore`` found in ``folder`` by the scanner."""
        source = f"{folder}/{IGNORE_FILE}" if folder else IGNORE_FILE
        return Ignore({**self.specs, folder: _compile(text.splitlines(), source)})

    def matches_here(self, rel_path: str, is_dir: bool) -> bool:
        """Whether ``rel_path`` itself is ignored, assuming no ancestor is (the scanner's
        question: it never descends into an ignored folder)."""
        return is_builtin_ignored(rel_path) or self.matches_rules(rel_path, is_dir)

    def matches_rules(self, rel_path: str, is_dir: bool) -> bool:
        """Whether the ``.syncdignore`` rules alone ignore ``rel_path`` (no ancestor check)."""
        if not self.specs:
            return False
        # Deepest folder first: in git, a nested file overrides the ones above it.
        for folder in sorted(self.specs, key=len, reverse=True):
            if folder and not rel_path.startswith(folder + "/"):
                continue
            inner = rel_path[len(folder) + 1 :] if folder else rel_path
            result = self.specs[folder].check_file(inner + "/" if is_dir else inner)
            if result.include is not None:
                return result.include
        return False

    def rule_for(self, rel_path: str, is_dir: bool) -> IgnoreMatch | None:
        """The rule that ignores ``rel_path`` (itself or through an ancestor folder), as
        ``matches`` decides it; None when nothing ignores it."""
        parts = rel_path.split("/")
        for i in range(1, len(parts) + 1):
            here = "/".join(parts[:i])
            found = self._rule_here(here, True if i < len(parts) else is_dir)
            if found is not None:
                return found
        return None

    def _rule_here(self, rel_path: str, is_dir: bool) -> IgnoreMatch | None:
        builtin = _builtin_match(rel_path)
        if builtin is not None:
            return builtin
        for folder in sorted(self.specs, key=len, reverse=True):  # as ``matches_rules``
            if folder and not rel_path.startswith(folder + "/"):
                continue
            inner = rel_path[len(folder) + 1 :] if folder else rel_path
            spec = self.specs[folder]
            result = spec.check_file(inner + "/" if is_dir else inner)
            if result.include is None:
                continue
            if not result.include or result.index is None:
                return None
            source = f"{folder}/{IGNORE_FILE}" if folder else IGNORE_FILE
            pattern = spec.patterns[result.index].pattern
            return IgnoreMatch(rel_path, source, str(pattern), result.index)
        return None

    def matches(self, rel_path: str, is_dir: bool) -> bool:
        """Whether ``rel_path`` is ignored, itself or through an ignored ancestor folder
        (for paths that do not come from a scan, such as remote entries)."""
        parts = rel_path.split("/")
        for i in range(1, len(parts)):
            if self.matches_here("/".join(parts[:i]), True):
                return True
        return self.matches_here(rel_path, is_dir)
