"""The local tree: what the disk holds now, keyed by NFC workspace path (first stage of the flow).

1. ``os.scandir`` only, never following a symlink unless asked: a symlink is skipped by
   policy (``skipped``, with the reason; not a failure) and its path is unknown. With
   ``follow_links`` a link to a regular file inside the folder stands for that file's
   content; a link out of the folder, to a folder, to an ignored path or to nothing is
   still skipped, so nothing outside the folder is ever read and no link can loop.
2. A file is hashed only when its ``StatSig`` (size, mtime_ns, inode, ctime) differs from
   the cache; hashes computed here come back in ``new_hashes`` for the caller to store in
   one transaction. A no-op scan costs one ``lstat`` per entry.
3. Unreadable is not deleted: a folder that cannot be listed, a file that cannot be read or
   that changed while it was hashed, a skipped symlink, or a name clash puts its path into
   ``unknown`` (that path and everything below it). The planner must treat those paths
   as unknown for this cycle, never as deleted.
4. A missing folder raises ``RootVanished`` and an unlistable one ``RootUnreadable``: the
   caller decides, nothing is inferred from a blind scan.
5. Two spellings of one name in one folder (NFC and NFD, or a compatibility singleton such
   as the Kelvin sign): one of them owns the NFC key in ``tree`` (the NFC spelling when
   there is one), each other one is a ``twin``: a node at the same key with its own
   ``disk_name``, not descended into. The planner renames twins beside the name.
6. A scan of many given paths (a slice of a large tree) resolves each folder once and
   lists it once, however many of its entries are asked for; an ``exact`` entry of the
   scope (``syncd.scope``) is the path alone, without its subtree.
7. With a ``sink`` the tree is handed over in parts as it grows and never held whole:
   the pre-walk of a sync in slices writes it to the state database. A part holds whole
   folders, each as (folder, the rows of its entries), so the database compares each
   folder with what it stored; every folder walked has its entry, an unlistable one too
   (with no rows). That walk takes a folder's kind and inode from the listing and
   ``lstat``s files only, and builds no node.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from syncd.errors import ItemError, RootVanished, UsageError
from syncd.local.errors import RootUnreadable
from syncd.local.hashing import StatSig, hash_file_stable
from syncd.local.ignore import (
    BUILTIN_FIRST,
    IGNORE_FILE,
    Ignore,
    is_builtin_ignored,
    is_builtin_name,
    is_our_temp_file,
)
from syncd.paths import MAX_PATH_BYTES, MAX_SEGMENT_BYTES, is_within_any, normalize, outermost
from syncd.planner.trees import Kind, LocalNode, shared
from syncd.scope import split

__all__ = ["HashCache", "HashRecord", "Problem", "ScanResult", "scan"]

_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f]")


class HashCache(Protocol):
    """Hashes known from earlier scans; ``None`` when ``sig`` is not the cached version."""

    def lookup(self, path: str, sig: StatSig) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Problem:
    """A path that cannot be synced this cycle, with a reason fit for the user."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class HashRecord:
    """A hash computed by this scan, for the hash cache."""

    path: str
    hash: str
    sig: StatSig


@dataclass
class ScanResult:
    """The local tree and what could not be known.

    ``ignored``: paths present on disk that ``.syncdignore`` excludes (not the built-in
    ignores); the reconciler keeps them out of the comparison, never deletes them remotely.
    ``temp_files``: leftover temp files of ours, for ``write.remove_temp_files``.
    ``skipped``: paths left out by policy (symlinks), with why: reported, not failures.
    ``links``: followed links, link path -> target path (both workspace paths).
    ``twins``: the other spellings of names in ``tree`` (module docstring, 5); unhashed.
    """

    tree: dict[str, LocalNode] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    new_hashes: list[HashRecord] = field(default_factory=list)
    ignored: set[str] = field(default_factory=set)
    temp_files: list[Path] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)
    twins: list[LocalNode] = field(default_factory=list)


def _display(disk_rel: str) -> str:
    """A printable spelling of a disk name that may hold undecodable bytes."""
    return disk_rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _key_name(name: str) -> str | None:
    """The NFC spelling of one disk name, or None when no workspace path may hold it."""
    if _CONTROL_RE.search(name):
        return None
    if name.isascii():
        return name if len(name) <= MAX_SEGMENT_BYTES else None
    try:
        nfc = unicodedata.normalize("NFC", name)
        size = len(nfc.encode("utf-8"))
    except UnicodeEncodeError:  # undecodable bytes, kept as surrogates by os.fsdecode
        return None
    return nfc if size <= MAX_SEGMENT_BYTES else None


@dataclass
class _Dir:
    abs_path: str
    disk_prefix: str  # "" or "a/b/" as spelled on disk
    key_prefix: str  # "" or "a/b/" in NFC
    ignore: Ignore
    same_spelling: bool = field(init=False)  # read once per entry: computed once

    def __post_init__(self) -> None:
        self.same_spelling = self.disk_prefix == self.key_prefix


_BAD_NAME = "name not allowed in a workspace (control character, bad UTF-8 or too long)"
_TOO_LONG = f"path longer than {MAX_PATH_BYTES} bytes"
_HASH_THREADS = 4
_HASH_SLICE = 1024  # files handed to the hashing threads at a time
LISTINGS_KEPT = 16  # folder listings a scan of many paths keeps (it asks them in order)
SINK_NODES = 5_000  # a sink gets the tree in parts of about this many rows
Row = tuple[str, str, int | None, int | None, int]
"""What a sink gets per path: (path, kind, size, mtime_ns, inode); no size for a folder."""
FOLDER_HELD = 4_096  # entries of one folder held at once by a sink's walk
Part = tuple[str, list[Row], frozenset[str] | bool | None]
"""One folder in a sink's part: (its path, "" for the root; rows; None: the rows are the
whole folder). A folder of more than ``FOLDER_HELD`` entries comes as several parts: rows
with ``True`` (more to come), then no rows and the keys (names) of all its rows."""


def _plain_names(d: _Dir, wanted: set[str]) -> set[str]:
    """Which of ``wanted`` (ASCII names) the folder lists under exactly that spelling: a
    second listing, names only, for the rare big folder where another spelling's NFC key
    is ASCII (a compatibility singleton such as the Kelvin sign)."""
    try:
        with os.scandir(d.abs_path) as listing:
            return {entry.name for entry in listing if entry.name in wanted}
    except OSError:
        return set()


_FILE = Kind.FILE.value
_DIRECTORY = Kind.DIR.value
_LINK_SKIPPED = "symbolic link: not synced (symlinks = skip)"
_LINK_OUTSIDE = "symbolic link to outside the folder: never followed"
_LINK_TO_DIR = "symbolic link to a folder: never followed (its files would sync twice)"
_LINK_DANGLING = "symbolic link to nothing (its target is missing)"
_LINK_LOOP = "symbolic link loop"
_LINK_ODD = "symbolic link to something that is not a regular file"
_LINK_IGNORED = "symbolic link to an ignored path: never followed"


_Entry = tuple[str, os.DirEntry[str]]


def _add_non_ascii(
    out: list[_Entry],
    twins: list[_Entry],
    odd: dict[str, list[os.DirEntry[str]]],
    is_plain: Callable[[str], bool],
) -> None:
    """Two spellings of one name: the NFC spelling owns the key (an ASCII name is its own
    NFC spelling: ``is_plain`` tells whether the folder has it), else the first by code
    points; every other spelling is a twin."""
    for key, group in odd.items():
        group.sort(key=lambda e: (e.name != key, e.name))
        if not is_plain(key):
            out.append((key, group.pop(0)))
        twins.extend((key, e) for e in group)


class _Scanner:
    def __init__(
        self,
        cache: HashCache | None,
        hash_files: bool,
        *,
        follow_links: bool = False,
        root: str = "",
        ignore: Ignore | None = None,
    ) -> None:
        self.cache = cache
        self.hash_files = hash_files
        self.follow_links = follow_links
        self.root_real = os.path.realpath(root) if follow_links else root
        self.root_ignore = ignore or Ignore()
        self.result = ScanResult()
        self.pending: list[tuple[str, str, str | None]] = []  # (rel, abs path, disk_name)
        # A scan of many paths: each folder listed once, each ancestor resolved once.
        self._listed: dict[str, _Indexed] = {}  # folder -> its listing by name, LRU
        self._resolved: dict[str, tuple[_Dir | None, str]] = {}

    def problem(self, path: str, reason: str, *, unknown: str | None = None) -> None:
        self.result.problems.append(Problem(path, reason))
        if unknown is not None:
            self.result.unknown.add(unknown)

    def skip(self, path: str, reason: str) -> None:
        self.result.skipped.append(Problem(path, reason))
        self.result.unknown.add(path)

    def followed(self, rel: str, abs_path: str) -> tuple[os.stat_result, str] | None:
        """The stat and real path of the file a link stands for, or None (skipped: why).

        Only a regular file inside the folder, and not ignored, is followed: the check is
        on the fully resolved target, so a chain of links cannot lead out or loop.
        """
        if not self.follow_links:
            return self.skip(rel, _LINK_SKIPPED)
        target = os.path.realpath(abs_path)
        inside = os.path.relpath(target, self.root_real)
        if inside == os.pardir or inside.startswith(os.pardir + os.sep):
            return self.skip(rel, _LINK_OUTSIDE)
        try:
            st = os.stat(target)
        except FileNotFoundError:
            return self.skip(rel, _LINK_DANGLING)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return self.skip(rel, _LINK_LOOP)
            self.problem(rel, f"cannot stat the link's target: {exc.strerror}", unknown=rel)
            return None
        if stat.S_ISDIR(st.st_mode):
            return self.skip(rel, _LINK_TO_DIR)
        if not stat.S_ISREG(st.st_mode):
            return self.skip(rel, _LINK_ODD)
        target_rel = unicodedata.normalize("NFC", inside.replace(os.sep, "/"))
        if self.root_ignore.matches(target_rel, False):
            return self.skip(rel, _LINK_IGNORED)
        self.result.links[rel] = target_rel
        return st, target

    def listing(self, d: _Dir) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(d.abs_path) as it:
                return list(it)
        except OSError as exc:
            self.unlistable(d, exc)
        return []

    def unlistable(self, d: _Dir, exc: OSError) -> None:
        """Record why a folder cannot be listed; for the root, raise (promise 4)."""
        gone = isinstance(exc, (FileNotFoundError, NotADirectoryError))
        if not d.key_prefix:
            if gone:
                raise RootVanished(
                    "the local folder is missing", hint="is the disk mounted?"
                ) from exc
            raise RootUnreadable(f"cannot list the local folder: {exc.strerror}") from exc
        folder = d.key_prefix[:-1]
        if gone or exc.errno == errno.ELOOP:
            self.result.unknown.add(folder)  # gone or changed since the listing: unknown
        else:
            self.problem(folder, f"cannot list folder: {exc.strerror}", unknown=folder)

    def entries(self, d: _Dir, want: str | None = None) -> tuple[list[_Entry], list[_Entry]]:
        """List one folder as (NFC name, entry), and its twins apart; report bad names.

        ASCII names (nearly all) take a fast path: they are their own NFC spelling. With
        ``want``, the entries of that one name, from a listing made once per scan.
        """
        if want is None:
            out, twins, bad = self._entries(d)
            for _, shown, reason in bad:
                self.problem(shown, reason)
            return out, twins
        listed = self._listed.pop(d.abs_path, None)  # and put back last: least recent first
        if listed is not None:
            self._listed[d.abs_path] = listed
        else:
            listed = self._listed[d.abs_path] = _Indexed.of(*self._entries(d))
            if len(self._listed) > LISTINGS_KEPT:  # the least recent: paths come sorted
                self._listed.pop(next(iter(self._listed)))
        for shown, reason in listed.bad.get(want, ()):
            self.problem(shown, reason)
        found = listed.out.get(want)
        return [found] if found is not None else [], listed.twins.get(want, [])

    def _entries(self, d: _Dir) -> tuple[list[_Entry], list[_Entry], list[tuple[str, str, str]]]:
        """The listing's (key, entry) pairs, twins, and bad names as (name as asked for,
        name as shown, why): a scan of one path reports only the bad name it asked for."""
        out, odd, bad = self._split(d, self.listing(d))
        twins: list[_Entry] = []
        if odd:
            _add_non_ascii(out, twins, odd, {key for key, _ in out}.__contains__)
        return out, twins, bad

    def _split(
        self, d: _Dir, entries: Iterable[os.DirEntry[str]]
    ) -> tuple[list[_Entry], dict[str, list[os.DirEntry[str]]], list[tuple[str, str, str]]]:
        """(key, entry) of the plain names, the other spellings by NFC key (for
        ``_add_non_ascii`` once the whole folder is read), and the bad names."""
        limit = MAX_PATH_BYTES - len(d.key_prefix.encode("utf-8"))
        out: list[_Entry] = []
        bad: list[tuple[str, str, str]] = []
        odd: dict[str, list[os.DirEntry[str]]] = {}
        for entry in entries:
            name = entry.name
            if name.isascii():
                if len(name) > MAX_SEGMENT_BYTES or _CONTROL_RE.search(name):
                    bad.append((name, d.disk_prefix + name, _BAD_NAME))
                elif len(name) > limit:
                    bad.append((name, d.disk_prefix + name, _TOO_LONG))
                else:
                    out.append((name, entry))
                continue
            key = _key_name(name)
            if key is None:
                bad.append(("", _display(d.disk_prefix + name), _BAD_NAME))
            elif len(key.encode("utf-8")) > limit:
                bad.append((key, _display(d.disk_prefix + name), _TOO_LONG))
            else:
                odd.setdefault(key, []).append(entry)
        return out, odd, bad

    def twin(self, d: _Dir, key: str, entry: os.DirEntry[str]) -> None:
        """Keep another spelling of ``key`` for the planner to rename; never descend into it.

        A twin that cannot be synced anyway (a symlink, a device, unreadable) is reported
        under its own spelling and leaves the key to the spelling that owns it.
        """
        rel = d.key_prefix + key
        shown = _display(d.disk_prefix + entry.name)
        if is_builtin_name(key, at_root=not d.key_prefix):
            return
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return  # gone since the listing: nothing to rename
        except OSError as exc:
            self.problem(shown, f"cannot stat: {exc.strerror}")
            return
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFLNK:
            self.problem(shown, "symbolic link: not followed")
            return
        if fmt not in (stat.S_IFDIR, stat.S_IFREG):
            self.problem(shown, "not a regular file (device, socket or pipe)")
            return
        is_dir = fmt == stat.S_IFDIR
        if d.ignore.specs and d.ignore.matches_rules(rel, is_dir):
            return  # ignored under every spelling, as the key itself is
        kind = Kind.DIR if is_dir else Kind.FILE
        size, mtime_ns = (None, None) if is_dir else (st.st_size, st.st_mtime_ns)
        node = LocalNode(rel, kind, size, mtime_ns, st.st_ino, None, d.disk_prefix + entry.name)
        self.result.twins.append(node)

    def visit(self, d: _Dir, key: str, entry: os.DirEntry[str], stack: list[_Dir]) -> None:
        """Add one entry to the tree (or to problems / unknown / ignored / pending hashes)."""
        res = self.result
        name = entry.name
        if is_builtin_name(key, at_root=not d.key_prefix):
            if is_our_temp_file(name) and entry.is_file(follow_symlinks=False):
                res.temp_files.append(Path(entry.path))
            return
        rel = shared(d.key_prefix + key)  # the hash cache's copy, when it has the path
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            res.unknown.add(rel)  # vanished between listing and stat: next cycle decides
            return
        except OSError as exc:
            self.problem(rel, f"cannot stat: {exc.strerror}", unknown=rel)
            return
        fmt = stat.S_IFMT(st.st_mode)
        is_dir = fmt == stat.S_IFDIR
        if d.ignore.specs and d.ignore.matches_rules(rel, is_dir):
            res.ignored.add(rel)
            return
        source = entry.path  # what is hashed: a followed link's real target
        if fmt == stat.S_IFLNK:
            found = self.followed(rel, entry.path)
            if found is None:
                return
            st, source = found
            fmt = stat.S_IFREG
        disk_name = None if d.same_spelling and key == name else d.disk_prefix + name
        if is_dir:
            res.tree[rel] = LocalNode(rel, Kind.DIR, inode=st.st_ino, disk_name=disk_name)
            stack.append(_Dir(entry.path, (disk_name or rel) + "/", rel + "/", d.ignore))
            return
        if fmt != stat.S_IFREG:
            self.problem(rel, "not a regular file (device, socket or pipe)", unknown=rel)
            return
        sig = StatSig(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
        digest = self.cache.lookup(rel, sig) if self.cache is not None else None
        if digest is None and self.hash_files:
            self.pending.append((rel, source, disk_name))
            return
        res.tree[rel] = LocalNode(rel, Kind.FILE, sig[0], sig[1], sig[2], digest, disk_name)

    def walk_entry(
        self, d: _Dir, key: str, entry: os.DirEntry[str], stack: list[_Dir]
    ) -> Row | None:
        """``visit`` for a sink's walk: the entry's row (None: no row, recorded why).

        The kind and the inode come with the listing; only a file is ``lstat``ed, for its
        size and mtime. A folder that vanished since the listing is found when it is
        listed (its rows are then none), a file that vanished when it is ``lstat``ed.
        """
        name = entry.name
        if key[:1] in BUILTIN_FIRST and is_builtin_name(key, at_root=not d.key_prefix):
            if is_our_temp_file(name) and entry.is_file(follow_symlinks=False):
                self.result.temp_files.append(Path(d.abs_path, name))
            return None
        rel = d.key_prefix + key
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
            if d.ignore.specs and d.ignore.matches_rules(rel, is_dir):
                self.result.ignored.add(rel)
                return None
            if is_dir:
                disk = rel if d.same_spelling and key == name else d.disk_prefix + name
                abs_path = os.path.join(d.abs_path, name)
                stack.append(_Dir(abs_path, disk + "/", rel + "/", d.ignore))
                return (rel, _DIRECTORY, None, None, entry.inode())
            if entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                return (rel, _FILE, st.st_size, st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            self.result.unknown.add(rel)  # vanished since the listing: the next cycle decides
            return None
        except OSError as exc:
            self.problem(rel, f"cannot stat: {exc.strerror}", unknown=rel)
            return None
        if entry.is_symlink():
            found = self.followed(rel, os.path.join(d.abs_path, name))
            if found is None:
                return None
            st = found[0]
            return (rel, _FILE, st.st_size, st.st_mtime_ns, st.st_ino)
        self.problem(rel, "not a regular file (device, socket or pipe)", unknown=rel)
        return None

    def walk_rows(self, start: _Dir, sink: Callable[[list[Part]], None]) -> None:
        """Walk the whole folder into ``sink`` a few thousand rows at a time (promise 7)."""
        stack = [start]
        parts: list[Part] = []
        pending = 0
        while stack:
            for part in self.folder_rows(stack.pop(), stack):
                parts.append(part)
                pending += len(part[1]) + 1
                if pending >= SINK_NODES:
                    sink(parts)
                    parts, pending = [], 0
        if parts:
            sink(parts)

    def folder_rows(self, d: _Dir, stack: list[_Dir]) -> Iterator[Part]:
        """One folder's parts: one whole part, or for a folder of more than
        ``FOLDER_HELD`` entries, parts of that many as it is read and then its keys, so no
        listing is ever held whole.

        The folder is opened once and listed by its descriptor, so each file's ``lstat``
        is an ``fstatat`` of its name (the kernel resolves no path per file: about a
        fifth of a no-op walk), and a folder swapped for a symlink since its parent was
        listed is not followed (``O_NOFOLLOW``; the root itself may be a link).
        """
        folder = d.key_prefix[:-1]
        flags = os.O_RDONLY | os.O_DIRECTORY | (os.O_NOFOLLOW if d.key_prefix else 0)
        try:
            fd = os.open(d.abs_path, flags)
        except OSError as exc:
            self.unlistable(d, exc)
            yield (folder, [], None)  # unlistable: no rows below it
            return
        try:
            with os.scandir(fd) as handle:
                try:
                    head = list(itertools.islice(handle, FOLDER_HELD))
                except OSError as exc:
                    self.unlistable(d, exc)
                    yield (folder, [], None)
                    return
                if len(head) < FOLDER_HELD:
                    yield (folder, self.rows_of(d, head, stack), None)
                    return
                yield from self.streamed_rows(d, itertools.chain(head, handle), stack)
        finally:
            os.close(fd)  # the entries' ``stat`` uses it: closed once the folder is done

    def rows_of(self, d: _Dir, entries: list[os.DirEntry[str]], stack: list[_Dir]) -> list[Row]:
        out, odd, bad = self._split(d, entries)
        for _, shown, reason in bad:
            self.problem(shown, reason)
        twins: list[_Entry] = []
        if odd:
            _add_non_ascii(out, twins, odd, {key for key, _ in out}.__contains__)
        nested = self.with_nested_ignore(d, out)
        if nested is None:
            return []
        rows = []
        for key, entry in out:
            row = self.walk_entry(nested, key, entry, stack)
            if row is not None:
                rows.append(row)
        for key, entry in twins:
            self.twin(nested, key, entry)
        return rows

    def streamed_rows(
        self, d: _Dir, entries: Iterator[os.DirEntry[str]], stack: list[_Dir]
    ) -> Iterator[Part]:
        """A big folder in parts of ``FOLDER_HELD`` entries; only its other spellings
        (rare) and the keys of its rows are held, the last for the database to find what
        left the folder."""
        folder = d.key_prefix[:-1]
        nested = self.nested_ignore_of(d)
        if nested is None:
            yield (folder, [], None)
            return
        keys: set[str] = set()
        odd: dict[str, list[os.DirEntry[str]]] = {}
        while True:
            try:
                chunk = list(itertools.islice(entries, FOLDER_HELD))
            except OSError as exc:  # the folder went away while it was read
                self.problem(folder, f"cannot list folder: {exc.strerror}", unknown=folder)
                yield (folder, [], None)
                return
            if not chunk:
                break
            out, more, bad = self._split(d, chunk)
            for _, shown, reason in bad:
                self.problem(shown, reason)
            for key, group in more.items():
                odd.setdefault(key, []).extend(group)
            yield (folder, self._visit_all(nested, out, stack, keys), True)
        twins: list[_Entry] = []
        if odd:  # an ASCII key is plain when the folder lists that spelling itself
            ascii_keys = {key for key in odd if key.isascii()}
            plain = _plain_names(d, ascii_keys) if ascii_keys else set()
            out = []
            _add_non_ascii(out, twins, odd, plain.__contains__)
            yield (folder, self._visit_all(nested, out, stack, keys), True)
        for key, entry in twins:
            self.twin(nested, key, entry)
        yield (folder, [], frozenset(keys))

    def _visit_all(
        self, d: _Dir, out: list[_Entry], stack: list[_Dir], keys: set[str]
    ) -> list[Row]:
        rows = []
        for key, entry in out:
            row = self.walk_entry(d, key, entry, stack)
            if row is not None:
                rows.append(row)
                keys.add(key)
        return rows

    def hash_pending(self) -> None:
        """Hash every file the cache did not know, a few at a time (reads release the GIL)."""
        res = self.result

        def one(item: tuple[str, str, str | None]) -> tuple[str, StatSig] | ItemError:
            try:
                return hash_file_stable(Path(item[1]), rel_path=item[0])
            except ItemError as exc:
                return exc

        pending = self.pending
        if len(pending) > 1:
            # In slices: ``map`` submits every item at once, and a future per file costs
            # ~1.5 KiB (its condition, lock and work item): 150 MiB for 100,000 files.
            outcomes: list[tuple[str, StatSig] | ItemError] = []
            with ThreadPoolExecutor(_HASH_THREADS) as pool:
                for start in range(0, len(pending), _HASH_SLICE):
                    outcomes += pool.map(one, pending[start : start + _HASH_SLICE])
        else:
            outcomes = [one(item) for item in pending]
        for (rel, _, disk_name), outcome in zip(self.pending, outcomes, strict=True):
            if isinstance(outcome, ItemError):
                hint = f" ({outcome.hint})" if outcome.hint else ""
                self.problem(rel, outcome.message + hint, unknown=rel)
                continue
            digest, sig = outcome
            res.new_hashes.append(HashRecord(rel, digest, sig))
            res.tree[rel] = LocalNode(rel, Kind.FILE, sig[0], sig[1], sig[2], digest, disk_name)
        self.pending.clear()

    def with_nested_ignore(self, d: _Dir, listed: list[_Entry]) -> _Dir | None:
        """Add the folder's own ``.syncdignore``; None (folder unknown) if it is unusable."""
        if not d.key_prefix:
            return d  # the root file is the caller's ``Ignore.load``
        entry = next((e for key, e in listed if key == IGNORE_FILE), None)
        if entry is None or entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            return d
        return self._read_nested(d, os.path.join(d.abs_path, entry.name))

    def nested_ignore_of(self, d: _Dir) -> _Dir | None:
        """``with_nested_ignore`` for a folder whose listing is not held: one ``lstat``."""
        if not d.key_prefix:
            return d
        path = os.path.join(d.abs_path, IGNORE_FILE)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                return d
        except FileNotFoundError:
            return d
        except OSError as exc:
            folder = d.key_prefix[:-1]
            self.problem(f"{folder}/{IGNORE_FILE}", f"cannot stat: {exc.strerror}", unknown=folder)
            return None
        return self._read_nested(d, path)

    def _read_nested(self, d: _Dir, path: str) -> _Dir | None:
        folder = d.key_prefix[:-1]
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            return _Dir(d.abs_path, d.disk_prefix, d.key_prefix, d.ignore.with_folder(folder, text))
        except (OSError, UnicodeDecodeError, UsageError) as exc:
            self.problem(
                f"{folder}/{IGNORE_FILE}", f"cannot use these ignore rules: {exc}", unknown=folder
            )
            return None

    def walk(self, start: list[_Dir]) -> None:
        stack = start
        while stack:
            d = stack.pop()
            listed, twins = self.entries(d)
            nested = self.with_nested_ignore(d, listed)
            if nested is None:
                continue
            for key, entry in listed:
                self.visit(nested, key, entry, stack)
            for key, entry in twins:
                self.twin(nested, key, entry)

    def walk_only(self, root: str, ignore: Ignore, rel: str, *, alone: bool = False) -> None:
        """Scan one path and its subtree (with ``alone``, the path only), resolving each
        ancestor without following links, once per scan however many paths it holds."""
        parent, _, name = rel.rpartition("/")
        d = self.folder(root, ignore, parent)
        if d is None:
            if self._resolved[parent][1] == "unknown":
                self.result.unknown.add(rel)
            return  # absent, ignored or unknown: already recorded
        found, twins = self.entries(d, want=name)
        if not found:
            return  # absent (or unknown, already recorded)
        key, entry = found[0]
        stack: list[_Dir] = []
        self.visit(d, key, entry, stack)
        for twin_key, twin in twins:  # an ancestor's twins wait for its own scan
            self.twin(d, twin_key, twin)
        if not alone:
            self.walk(stack)

    def folder(self, root: str, ignore: Ignore, path: str) -> _Dir | None:
        """The folder at ``path`` ("" is the root) with its ignore rules, or None when it is
        absent, ignored or unknown (``_resolved`` says which); resolved once per scan."""
        if not path:
            return _Dir(root, "", "", ignore)
        known = self._resolved.get(path)
        if known is not None:
            return known[0]
        parent, _, seg = path.rpartition("/")
        d = self.folder(root, ignore, parent)
        if d is None:
            why = self._resolved[parent][1]
            self._resolved[path] = (None, "absent" if why == "ignored" else why)
            return None
        found, _ = self.entries(d, want=seg)
        resolved: tuple[_Dir | None, str]
        if not found:
            resolved = (None, "absent")  # or unknown, recorded under the folder itself
        else:
            key, entry = found[0]
            here = d.key_prefix + key
            if is_builtin_ignored(here) or d.ignore.matches_rules(here, True):
                self.result.ignored.add(here)
                resolved = (None, "ignored")
            elif entry.is_symlink():
                resolved = (None, "unknown")
            elif not entry.is_dir(follow_symlinks=False):
                resolved = (None, "absent")  # an ancestor is a file: the path is absent
            else:
                child = _Dir(entry.path, d.disk_prefix + entry.name + "/", here + "/", d.ignore)
                nested = self.with_nested_ignore(child, self.entries(child, want=IGNORE_FILE)[0])
                resolved = (nested, "") if nested is not None else (None, "unknown")
        self._resolved[path] = resolved
        return resolved[0]


class _Indexed(NamedTuple):
    """One folder's listing by key, so a scan of many paths in a big folder finds each
    name in one lookup (a search of the list was quadratic: 5,000 paths of a slice in a
    folder of 30,000 names took seconds)."""

    out: dict[str, _Entry]  # a key is in ``out`` once; its other spellings are twins
    twins: dict[str, list[_Entry]]
    bad: dict[str, list[tuple[str, str]]]

    @classmethod
    def of(
        cls, out: list[_Entry], twins: list[_Entry], bad: list[tuple[str, str, str]]
    ) -> _Indexed:
        by_out = {pair[0]: pair for pair in out}
        by_twin: dict[str, list[_Entry]] = {}
        for pair in twins:
            by_twin.setdefault(pair[0], []).append(pair)
        by_bad: dict[str, list[tuple[str, str]]] = {}
        for name, shown, reason in bad:
            by_bad.setdefault(name, []).append((shown, reason))
        return cls(by_out, by_twin, by_bad)


def scan(
    root: Path,
    *,
    ignore: Ignore,
    cache: HashCache | None,
    hash_files: bool = True,
    only: Iterable[str] | None = None,
    follow_links: bool = False,
    sink: Callable[[list[Part]], None] | None = None,
) -> ScanResult:
    """Scan the folder (or only the given paths and their subtrees) into a ``ScanResult``.

    With ``hash_files=False`` a file missing from the cache gets ``hash=None`` (the planner
    asks for it with a ``Need``). With ``only``, the tree holds those paths and their
    subtrees (an ``exact`` entry: the path alone), never their ancestors; a path absent
    from the tree and from ``unknown`` is absent on disk. ``follow_links`` is
    ``symlinks = follow`` (see the module docstring). With ``sink`` (no hashing, the whole
    folder), the tree goes to ``sink`` in parts, folder by folder as ``Row`` tuples, and
    the result's ``tree`` is left empty.
    """
    if sink is not None and (hash_files or only is not None):
        raise ValueError("a scan with a sink walks the whole folder and hashes nothing")
    top = os.fspath(root)
    scanner = _Scanner(cache, hash_files, follow_links=follow_links, root=top, ignore=ignore)
    if sink is not None:
        scanner.walk_rows(_Dir(top, "", "", ignore), sink)
    elif only is None:
        scanner.walk([_Dir(top, "", "", ignore)])
    else:
        if not os.path.isdir(top):
            scanner.entries(_Dir(top, "", "", ignore))  # raises the root error
        subtrees, alone = split(only)
        wanted = outermost(normalize(p) for p in subtrees)
        for rel in wanted:
            scanner.walk_only(top, ignore, rel)
        for rel in sorted({normalize(p) for p in alone}):
            if not is_within_any(rel, wanted):
                scanner.walk_only(top, ignore, rel, alone=True)
    scanner.hash_pending()
    return scanner.result
