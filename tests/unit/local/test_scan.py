"""scan.py: the local tree, the hash cache, and unreadable-is-unknown."""

from __future__ import annotations

import os
import time
import unicodedata
from pathlib import Path

import pytest
from pyfakefs.fake_filesystem import FakeFilesystem

from syncd.errors import RootVanished
from syncd.local import scan as scan_module
from syncd.local.errors import RootUnreadable
from syncd.local.hashing import StatSig, hash_bytes
from syncd.local.ignore import Ignore
from syncd.local.scan import HashRecord, scan
from syncd.planner.trees import Kind

NFC = unicodedata.normalize("NFC", "café.txt")
NFD = unicodedata.normalize("NFD", "café.txt")


class DictCache:
    """A HashCache that hits only for the exact StatSig it stored."""

    def __init__(self, records: list[HashRecord] = ()) -> None:  # type: ignore[assignment]
        self.rows = {r.path: (r.sig, r.hash) for r in records}
        self.lookups = 0

    def lookup(self, path: str, sig: StatSig) -> str | None:
        self.lookups += 1
        row = self.rows.get(path)
        return row[1] if row and row[0] == sig else None


@pytest.fixture
def count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    hashed: list[str] = []
    real = scan_module.hash_file_stable

    def counting(path: Path, *, rel_path: str | None = None):  # type: ignore[no-untyped-def]
        hashed.append(rel_path or "")
        return real(path, rel_path=rel_path)

    monkeypatch.setattr(scan_module, "hash_file_stable", counting)
    return hashed


def _scan(root: Path, cache: DictCache | None = None, **kw):  # type: ignore[no-untyped-def]
    return scan(root, ignore=Ignore.load(root), cache=cache, **kw)


# Real folders here: pyfakefs moves ctime when a file is read, which a real disk does not.
def test_tree_of_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    (tmp_path / "a.txt").write_bytes(b"hello")
    (tmp_path / "d" / "e" / "f.bin").write_bytes(b"")
    result = _scan(tmp_path)
    assert set(result.tree) == {"a.txt", "d", "d/e", "d/e/f.bin", "empty"}
    a = result.tree["a.txt"]
    assert (a.kind, a.size, a.hash, a.disk_name) == (Kind.FILE, 5, hash_bytes(b"hello"), None)
    assert a.inode == os.lstat(tmp_path / "a.txt").st_ino
    assert result.tree["empty"].kind is Kind.DIR
    assert result.tree["d"].inode == os.lstat(tmp_path / "d").st_ino
    assert {r.path for r in result.new_hashes} == {"a.txt", "d/e/f.bin"}
    sig = StatSig.from_stat(os.lstat(tmp_path / "a.txt"))
    assert next(r.sig for r in result.new_hashes if r.path == "a.txt") == sig
    assert (a.size, a.mtime_ns, a.inode) == (sig.size, sig.mtime_ns, sig.inode)
    assert result.problems == [] and result.unknown == set()


def test_no_rehash_when_unchanged(tmp_path: Path, count_hashes: list[str]) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_bytes(b"a")
    (tmp_path / "sub" / "b.txt").write_bytes(b"b")
    first = _scan(tmp_path)
    count_hashes.clear()
    cache = DictCache(first.new_hashes)
    second = _scan(tmp_path, cache)
    assert count_hashes == []
    assert second.new_hashes == []
    assert cache.lookups == 2
    assert second.tree == first.tree


def _change_size(p: Path) -> None:
    p.write_bytes(b"longer content")


def _change_mtime(p: Path) -> None:
    st = os.lstat(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def _change_inode(p: Path) -> None:
    st = os.lstat(p)
    tmp = p.with_name("copy")
    tmp.write_bytes(p.read_bytes())
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(tmp, p)


def _change_ctime(p: Path) -> None:
    before = os.lstat(p).st_ctime_ns
    deadline = time.monotonic() + 2
    while os.lstat(p).st_ctime_ns == before and time.monotonic() < deadline:
        os.chmod(p, 0o600 if os.lstat(p).st_mode & 0o077 else 0o644)


@pytest.mark.parametrize("change", [_change_size, _change_mtime, _change_inode, _change_ctime])
def test_rehash_when_one_stat_field_changes(
    tmp_path: Path, count_hashes: list[str], change
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.txt").write_bytes(b"same size")
    (tmp_path / "b.txt").write_bytes(b"untouched")
    cache = DictCache(_scan(tmp_path).new_hashes)
    count_hashes.clear()
    change(tmp_path / "a.txt")
    result = _scan(tmp_path, cache)
    assert count_hashes == ["a.txt"]
    assert [r.path for r in result.new_hashes] == ["a.txt"]
    assert result.tree["a.txt"].hash == hash_bytes((tmp_path / "a.txt").read_bytes())


def test_without_hashing_uncached_files_have_no_hash(
    fs: FakeFilesystem, count_hashes: list[str]
) -> None:
    fs.create_file("/r/a.txt", contents=b"a")
    result = _scan(Path("/r"), hash_files=False)
    assert result.tree["a.txt"].hash is None
    assert result.new_hashes == [] and count_hashes == []


def test_symlinks_are_skipped_by_policy_not_failures(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "secret.txt").write_bytes(b"s")
    root = tmp_path / "root"
    root.mkdir()
    (root / "real.txt").write_bytes(b"r")
    (root / "to-dir").symlink_to(outside)
    (root / "to-file").symlink_to(outside / "deep" / "secret.txt")
    (root / "dangling").symlink_to(tmp_path / "nowhere")
    (root / "inside").symlink_to(root / "real.txt")
    result = _scan(root)
    assert set(result.tree) == {"real.txt"}
    assert result.problems == []
    assert {p.path for p in result.skipped} == {"to-dir", "to-file", "dangling", "inside"}
    assert all("symlinks = skip" in p.reason for p in result.skipped)
    assert result.unknown == {"to-dir", "to-file", "dangling", "inside"}
    assert result.links == {}


def _follow_tree(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    root = tmp_path / "root"
    (root / "docs" / "sub").mkdir(parents=True)
    (root / "docs" / "a.txt").write_bytes(b"content of a")
    (root / "private").mkdir()
    (root / "private" / "key").write_bytes(b"k")
    (root / ".syncdignore").write_text("private/\n")
    (root / "link.txt").symlink_to("docs/a.txt")  # relative, inside: followed
    (root / "docs" / "sub" / "up.txt").symlink_to("../a.txt")
    (root / "chain.txt").symlink_to(tmp_path / "outside-hop")  # out and back in
    (tmp_path / "outside-hop").symlink_to(root / "docs" / "a.txt")
    (root / "out.txt").symlink_to(outside / "secret.txt")
    (root / "escape.txt").symlink_to("docs/../../outside/secret.txt")
    (root / "parent").symlink_to(root)  # a loop if followed
    (root / "docs" / "sub" / "loop").symlink_to("..")
    (root / "sibling").symlink_to("docs")
    (root / "dangling").symlink_to("docs/nothing.txt")
    (root / "cycle-a").symlink_to("cycle-b")
    (root / "cycle-b").symlink_to("cycle-a")
    (root / "to-ignored").symlink_to("private/key")
    (root / "to-marker").symlink_to(".syncd-root")
    (root / ".syncd-root").write_text("{}")
    return root


def test_follow_takes_links_to_files_inside_the_folder_only(tmp_path: Path) -> None:
    root = _follow_tree(tmp_path)
    result = _scan(root, follow_links=True)
    followed = {"link.txt", "docs/sub/up.txt", "chain.txt"}
    for path in followed:
        node = result.tree[path]
        assert node.kind is Kind.FILE and node.hash == hash_bytes(b"content of a"), path
        assert node.size == len(b"content of a")
    assert result.links == {p: "docs/a.txt" for p in followed}
    reasons = {p.path: p.reason for p in result.skipped}
    assert set(reasons) == {
        "out.txt",
        "escape.txt",
        "parent",
        "docs/sub/loop",
        "sibling",
        "dangling",
        "cycle-a",
        "cycle-b",
        "to-ignored",
        "to-marker",
    }
    assert "outside the folder" in reasons["out.txt"]
    assert "outside the folder" in reasons["escape.txt"]
    assert "to a folder" in reasons["parent"] and "to a folder" in reasons["sibling"]
    assert "to a folder" in reasons["docs/sub/loop"]
    assert "missing" in reasons["dangling"]
    assert "loop" in reasons["cycle-a"]
    assert "ignored" in reasons["to-ignored"] and "ignored" in reasons["to-marker"]
    assert set(reasons) <= result.unknown
    assert not any(p.startswith(("parent/", "sibling/")) for p in result.tree)
    assert result.problems == []


def test_follow_in_a_scoped_scan_and_an_ignored_link(tmp_path: Path) -> None:
    root = _follow_tree(tmp_path)
    (root / ".syncdignore").write_text("private/\nlink.txt\n")
    result = _scan(root, follow_links=True, only=["link.txt", "docs/sub/up.txt", "out.txt"])
    assert set(result.tree) == {"docs/sub/up.txt"}
    assert result.ignored == {"link.txt"}  # an ignored link is ignored, not reported
    assert [p.path for p in result.skipped] == ["out.txt"]


def test_nfd_names_are_keyed_nfc(fs: FakeFilesystem) -> None:
    fs.create_file(f"/r/{NFD}", contents=b"x")
    fs.create_file(f"/r/{unicodedata.normalize('NFD', 'Ordneré')}/inner.txt", contents=b"y")
    result = _scan(Path("/r"))
    node = result.tree[NFC]
    assert node.disk_name == NFD
    dir_key = unicodedata.normalize("NFC", "Ordneré")
    inner = result.tree[f"{dir_key}/inner.txt"]
    assert inner.disk_name == unicodedata.normalize("NFD", "Ordneré") + "/inner.txt"
    assert all(unicodedata.is_normalized("NFC", k) for k in result.tree)


def test_two_spellings_of_one_name_keep_the_nfc_one(fs: FakeFilesystem) -> None:
    """The NFC spelling owns the key; the NFD one is a twin for the planner to rename
    (it used to be reported at every sync and never synced)."""
    fs.create_file(f"/r/{NFC}", contents=b"composed")
    fs.create_file(f"/r/{NFD}", contents=b"decomposed")
    result = _scan(Path("/r"))
    assert result.tree[NFC].hash == hash_bytes(b"composed")
    assert result.tree[NFC].disk_name is None
    (twin,) = result.twins
    assert (twin.path, twin.kind, twin.disk_name, twin.size) == (NFC, Kind.FILE, NFD, 10)
    assert twin.inode == os.stat(f"/r/{NFD}").st_ino
    assert result.problems == [] and result.unknown == set()


def test_a_twin_folder_is_not_descended_into(fs: FakeFilesystem) -> None:
    nfc, nfd = (unicodedata.normalize(f, "Ünïcode") for f in ("NFC", "NFD"))
    fs.create_file(f"/r/sub/{nfc}/mine.txt", contents=b"m")
    fs.create_file(f"/r/sub/{nfd}/theirs.txt", contents=b"t")
    result = _scan(Path("/r"))
    assert set(result.tree) == {"sub", f"sub/{nfc}", f"sub/{nfc}/mine.txt"}
    assert [(t.path, t.kind, t.disk_name) for t in result.twins] == [
        (f"sub/{nfc}", Kind.DIR, f"sub/{nfd}")
    ]


def test_twins_below_an_nfd_folder_carry_its_disk_spelling(fs: FakeFilesystem) -> None:
    folder = unicodedata.normalize("NFD", "Ordneré")
    fs.create_file(f"/r/{folder}/{NFC}", contents=b"1")
    fs.create_file(f"/r/{folder}/{NFD}", contents=b"2")
    result = _scan(Path("/r"))
    key = unicodedata.normalize("NFC", folder) + "/" + NFC
    assert result.tree[key].disk_name == f"{folder}/{NFC}"
    assert [(t.path, t.disk_name) for t in result.twins] == [(key, f"{folder}/{NFD}")]


def test_two_non_nfc_spellings_one_owns_the_key(fs: FakeFilesystem) -> None:
    # d + dot below + dot above (NFD) and U+1E0B + dot below: neither is the NFC spelling.
    a, b = "d\u0323\u0307", "\u1e0b\u0323"
    key = unicodedata.normalize("NFC", a)
    assert key == unicodedata.normalize("NFC", b) and key not in (a, b)
    fs.create_file(f"/r/{a}", contents=b"1")
    fs.create_file(f"/r/{b}", contents=b"2")
    result = _scan(Path("/r"))
    assert result.tree[key].disk_name == min(a, b)
    assert [t.disk_name for t in result.twins] == [max(a, b)]
    assert result.unknown == set() and result.problems == []


def test_a_twin_that_cannot_sync_is_reported_and_leaves_the_key(tmp_path: Path) -> None:
    (tmp_path / NFC).write_bytes(b"real")
    (tmp_path / NFD).symlink_to(tmp_path / NFC)
    result = _scan(tmp_path)
    assert result.tree[NFC].hash == hash_bytes(b"real")
    assert result.twins == [] and result.unknown == set()
    assert [(p.path, p.reason) for p in result.problems] == [(NFD, "symbolic link: not followed")]


def test_an_ignored_name_has_no_twins(fs: FakeFilesystem) -> None:
    fs.create_file("/r/.syncdignore", contents=NFC.encode())
    fs.create_file(f"/r/{NFC}", contents=b"1")
    fs.create_file(f"/r/{NFD}", contents=b"2")
    result = _scan(Path("/r"))
    assert NFC not in result.tree and result.twins == []
    assert result.ignored == {NFC}


def test_only_finds_the_twins_of_the_scoped_path_not_of_its_ancestors(fs: FakeFilesystem) -> None:
    nfc, nfd = (unicodedata.normalize(f, "Ünïcode") for f in ("NFC", "NFD"))
    fs.create_file(f"/r/{nfc}/{NFC}", contents=b"1")
    fs.create_file(f"/r/{nfc}/{NFD}", contents=b"2")
    fs.create_file(f"/r/{nfd}/x.txt", contents=b"3")
    result = _scan(Path("/r"), only=[f"{nfc}/{NFC}"])
    assert set(result.tree) == {f"{nfc}/{NFC}"}
    assert [t.disk_name for t in result.twins] == [f"{nfc}/{NFD}"]
    whole = _scan(Path("/r"), only=[nfc])
    assert [t.disk_name for t in whole.twins] == [nfd, f"{nfc}/{NFD}"]


@pytest.mark.parametrize("name", ["bad\x01name", "tab\there", "del\x7f", "c1\x85x", "é" * 128])
def test_names_no_workspace_may_hold_are_problems(fs: FakeFilesystem, name: str) -> None:
    fs.create_file(f"/r/{name}", contents=b"x")
    fs.create_file("/r/fine.txt", contents=b"x")
    result = _scan(Path("/r"))
    assert set(result.tree) == {"fine.txt"}
    assert len(result.problems) == 1
    assert "not allowed" in result.problems[0].reason


def test_undecodable_name_is_a_problem(tmp_path: Path) -> None:
    fd = os.open(os.fsencode(tmp_path) + b"/bad-\xff.txt", os.O_CREAT | os.O_WRONLY)
    os.close(fd)
    result = _scan(tmp_path)
    assert result.tree == {}
    assert result.problems[0].path == "bad-\\xff.txt"


def test_unlistable_folder_is_unknown_not_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "locked" / "sub").mkdir(parents=True)
    (tmp_path / "locked" / "sub" / "a.txt").write_bytes(b"a")
    (tmp_path / "open.txt").write_bytes(b"o")
    real = os.scandir
    locked = str(tmp_path / "locked")

    def scandir(path):  # type: ignore[no-untyped-def]
        if os.fspath(path) == locked:
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(scan_module.os, "scandir", scandir)
    result = _scan(tmp_path)
    assert set(result.tree) == {"open.txt", "locked"}
    assert result.unknown == {"locked"}
    assert result.problems[0].path == "locked"
    assert "Permission denied" in result.problems[0].reason


def test_unreadable_file_is_unknown_and_reported(fs: FakeFilesystem) -> None:
    from pyfakefs.helpers import set_uid

    fs.create_file("/r/secret.txt", contents=b"s", st_mode=0o100000)
    fs.create_file("/r/ok.txt", contents=b"o")
    set_uid(1000)  # the tests run as root, which chmod 000 would not stop
    result = _scan(Path("/r"))
    assert set(result.tree) == {"ok.txt"}
    assert result.unknown == {"secret.txt"}
    assert result.problems[0].path == "secret.txt"
    assert "permission" in result.problems[0].reason.lower()


def test_unlistable_folder_in_fake_fs(fs: FakeFilesystem) -> None:
    from pyfakefs.helpers import set_uid

    fs.create_file("/r/private/x.txt", contents=b"x")
    os.chmod("/r/private", 0o000)
    set_uid(1000)
    result = _scan(Path("/r"))
    assert "private/x.txt" not in result.tree
    assert result.unknown == {"private"}


def test_missing_root_raises_root_vanished(tmp_path: Path) -> None:
    with pytest.raises(RootVanished):
        _scan(tmp_path / "unmounted")
    with pytest.raises(RootVanished):
        scan(tmp_path / "unmounted", ignore=Ignore(), cache=None, only=["a"])


def test_unlistable_root_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(path):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(scan_module.os, "scandir", denied)
    with pytest.raises(RootUnreadable) as info:
        scan(tmp_path, ignore=Ignore(), cache=None)
    assert info.value.exit_code == 5


def test_ignored_and_temp_files(fs: FakeFilesystem) -> None:
    fs.create_file("/r/.syncdignore", contents="build/\n*.log\n")
    fs.create_file("/r/build/out.o")
    fs.create_file("/r/x.log")
    fs.create_file("/r/.DS_Store")
    fs.create_file("/r/.syncd-root")
    fs.create_file("/r/sub/.syncd-tmp-0123456789abcdef")
    fs.create_file("/r/keep.txt")
    result = _scan(Path("/r"))
    assert set(result.tree) == {".syncdignore", "keep.txt", "sub"}
    assert result.ignored == {"build", "x.log"}
    assert result.temp_files == [Path("/r/sub/.syncd-tmp-0123456789abcdef")]


def test_nested_ignore_file(fs: FakeFilesystem) -> None:
    fs.create_file("/r/.syncdignore", contents="*.log\n")
    fs.create_file("/r/sub/.syncdignore", contents="!keep.log\ncache/\n")
    fs.create_file("/r/sub/keep.log")
    fs.create_file("/r/sub/drop.log")
    fs.create_file("/r/sub/cache/c.bin")
    fs.create_file("/r/other/keep.log")
    result = _scan(Path("/r"))
    assert "sub/keep.log" in result.tree
    assert result.ignored == {"sub/drop.log", "sub/cache", "other/keep.log"}
    only = _scan(Path("/r"), only=["sub/keep.log", "sub/cache/c.bin"])
    assert set(only.tree) == {"sub/keep.log"}
    assert only.ignored == {"sub/cache"}


def test_only_restricts_to_paths_and_subtrees(fs: FakeFilesystem) -> None:
    fs.create_file("/r/a/b/c.txt", contents=b"c")
    fs.create_file("/r/a/b/d/e.txt", contents=b"e")
    fs.create_file("/r/a/other.txt", contents=b"o")
    fs.create_file(f"/r/{NFD}", contents=b"n")
    result = _scan(Path("/r"), only=["a/b", "a/b/c.txt", "missing/x", NFC])
    assert set(result.tree) == {"a/b", "a/b/c.txt", "a/b/d", "a/b/d/e.txt", NFC}
    assert result.tree[NFC].disk_name == NFD
    assert result.unknown == set()


def test_only_below_a_symlink_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "x.txt").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    result = _scan(tmp_path, only=["link/x.txt"])
    assert result.tree == {}
    assert result.unknown == {"link/x.txt"}


def test_file_changing_while_hashed_is_unknown(
    fs: FakeFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.errors import SourceChanged

    fs.create_file("/r/busy.txt", contents=b"b")

    def busy(path: Path, *, rel_path: str | None = None):  # type: ignore[no-untyped-def]
        raise SourceChanged("changed while read", path=rel_path)

    monkeypatch.setattr(scan_module, "hash_file_stable", busy)
    result = _scan(Path("/r"))
    assert result.tree == {} and result.unknown == {"busy.txt"}


def test_noop_scan_is_fast(tmp_path: Path) -> None:
    """2,000 unchanged files, no hashing: well within the 1 s budget for 100,000."""
    for d in range(4):
        folder = tmp_path / f"d{d}"
        folder.mkdir()
        for i in range(500):
            (folder / f"f{i:03}.txt").touch()
    cache = DictCache(_scan(tmp_path, hash_files=False).new_hashes)
    start = time.perf_counter()
    result = _scan(tmp_path, cache, hash_files=False)
    elapsed = time.perf_counter() - start
    assert len(result.tree) == 2_004 and result.new_hashes == []
    assert cache.lookups == 2_000
    assert elapsed < 0.5, f"no-op scan of 2,000 files took {elapsed:.2f}s"


def test_compatibility_singleton_clashing_with_ascii_name(fs: FakeFilesystem) -> None:
    fs.create_file("/r/K.txt", contents=b"ascii")
    fs.create_file("/r/\u212a.txt", contents=b"kelvin")  # KELVIN SIGN, NFC is "K"
    result = _scan(Path("/r"))
    assert result.tree["K.txt"].hash == hash_bytes(b"ascii")
    assert [(t.path, t.disk_name) for t in result.twins] == [("K.txt", "\u212a.txt")]
    assert result.problems == []
