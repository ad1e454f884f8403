"""Which of the server's paths the ``.syncdignore`` files in this folder exclude.

The scanner applies every ``.syncdignore`` it meets to local entries; the server's entries
need the same answer, or a folder's rules would keep its files from going up while the
server's files under the same rules came down into it. The rules are those on disk (the
files the scanner would read), root first, each nested file scoped to its folder and
overriding the ones above it, as in git; an ignored folder hides everything below it.

1. Each folder's rules are read once per question (a dict per call), so a listing of N
   paths costs one ``open`` per folder that has a path below it, not per path.
2. A nested file that cannot be used (unreadable, invalid, not UTF-8) makes its folder's
   server entries excluded too: neither downloaded nor deleted until it is fixed, as the
   scanner leaves that folder unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from syncd.errors import UsageError
from syncd.local.ignore import IGNORE_FILE, Ignore
from syncd.paths import parent


class RemoteIgnore:
    """``ignored(path, is_dir)`` for server paths, with the rules of this folder's disk."""

    def __init__(self, root: Path, ignore: Ignore) -> None:
        self.root = root
        self._rules: dict[str, Ignore | None] = {"": ignore}  # None: unusable nested rules
        self._hidden: dict[str, bool] = {"": False}  # a folder ignored, itself or above

    def ignored(self, path: str, is_dir: bool) -> bool:
        folder = parent(path)
        if self._is_hidden(folder):
            return True
        rules = self._folder_rules(folder)
        return rules is None or rules.matches_here(path, is_dir)

    def _is_hidden(self, folder: str) -> bool:
        known = self._hidden.get(folder)
        if known is None:
            up = parent(folder)
            known = self._is_hidden(up)
            if not known:  # never read the rules inside an ignored folder
                above = self._folder_rules(up)
                known = above is None or above.matches_here(folder, True)
            self._hidden[folder] = known
        return known

    def _folder_rules(self, folder: str) -> Ignore | None:
        """The rules in force inside ``folder``: its parent's plus its own file, if any."""
        if folder in self._rules:
            return self._rules[folder]
        above = self._folder_rules(parent(folder))
        rules = above
        file = self.root / folder / IGNORE_FILE
        if above is not None and not file.is_symlink():  # the scanner reads no linked rules
            try:
                text = file.read_text(encoding="utf-8")
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                pass
            except (OSError, UnicodeDecodeError):
                rules = None
            else:
                try:
                    rules = above.with_folder(folder, text)
                except UsageError:
                    rules = None
        self._rules[folder] = rules
        return rules


def ignored_remote(root: Path, ignore: Ignore, entries: Iterable[tuple[str, bool]]) -> set[str]:
    """The paths of ``entries`` ((path, is_dir) of the server) that the rules exclude."""
    rules = RemoteIgnore(root, ignore)
    return {path for path, is_dir in entries if rules.ignored(path, is_dir)}
