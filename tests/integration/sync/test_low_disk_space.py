"""End to end: a download that would leave less than ``min_free_space`` is not started.

The free space is made short without filling a disk: the guard is set above the real
free space of the test's file system (``statvfs`` tells how much that is), so every
download must be refused; the next sync, with the default guard, downloads. Full (small
files in one E6 batch, a larger one alone) and base-only (one GET each).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from syncd.local.space import LowDiskSpace
from tests.support.clients import write

FILES = {"a.txt": b"a" * 5000, "docs/b.txt": b"b" * 7000, "big.bin": os.urandom(1_500_000)}


def everything_under(*roots: Path) -> set[str]:
    """Every file below the roots (our marker aside): no temp file may be left anywhere."""
    found = set()
    for root in roots:
        for dirpath, _dirs, names in os.walk(root):
            found |= {str(Path(dirpath, n).relative_to(root)) for n in names}
    return found - {".syncd-root"}


def test_low_disk_space_refuses_downloads_until_there_is_room(make_client, tmp_path: Path):
    up = make_client("up")
    for path, data in FILES.items():
        write(up.folder / path, data)
    up.sync()

    down = make_client("down")
    st = os.statvfs(tmp_path)
    more_than_free = str(st.f_blocks * st.f_frsize)  # the whole disk: never free
    proc = down.sync("--min-free-space", more_than_free, expect=1)
    for path in FILES:
        assert f"could not sync {path}: {LowDiskSpace.title}: " in proc.stderr, proc.stderr
    assert "(min_free_space)" in proc.stderr and "free some disk space" in proc.stderr
    assert down.tree() == {}
    state_files = everything_under(down.state_dir)
    assert not [f for f in state_files if ".downloads" in f or ".syncd-" in f], state_files
    assert everything_under(down.folder) == set()  # no temp file, not even an empty one

    status = down.run("--json", command="status")
    assert status.returncode == 0, status.stderr
    errors = {e["path"]: e["reason"] for e in json.loads(status.stdout)["errors"]}
    assert errors.keys() == set(FILES)
    assert all(r.startswith(f"{LowDiskSpace.title}: ") for r in errors.values()), errors

    down.sync()  # the default guard (1 GiB or 5%) leaves room here
    assert down.tree() == up.tree()
    after = down.run("--json", command="status")
    assert json.loads(after.stdout)["errors"] == []


def test_a_bad_min_free_space_is_one_line_and_off_turns_the_guard_off(make_client, tmp_path: Path):
    down = make_client("down")
    bad = down.sync("--min-free-space", "lots", expect=2)
    assert bad.stderr.strip().startswith("syncd: --min-free-space: expected a size")
    assert bad.stderr.count("\n") == 1
    off = down.sync("--min-free-space", "off")
    assert "could not sync" not in off.stderr
