"""``syncd run`` and a short disk: refused downloads are reported, and go once there is room.

Two ways to make the space short without filling the machine's disk: ``min_free_space``
above the whole disk (lowered by SIGHUP), and a small tmpfs of the test's own (where
mount works, as root), on which deleting a filler file frees the space for real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.daemon.daemons import FastDaemon, eventually

MIB = 1 << 20


def put(daemon: FastDaemon, path: str, data: bytes) -> None:
    with daemon.server.client(daemon.api_key) as http:
        answer = http.put(f"/api/v1/workspaces/{daemon.workspace}/files/{path}", content=data)
        assert answer.is_success, answer.text


def low_space_errors(daemon: FastDaemon) -> list[dict[str, object]]:
    answer = daemon.status()
    if answer.returncode != 0:
        return []
    errors = json.loads(answer.stdout)["errors"]
    return [e for e in errors if str(e["reason"]).startswith("low disk space: ")]


def files_in(folder: Path) -> set[str]:
    return {n for _d, _s, names in os.walk(folder) for n in names} - {".syncd-root"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 32 MiB tmpfs at ``tmp_path/disk``; skipped where this user cannot mount."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_reload_that_lowers_min_free_space_lets_the_download_go(make_daemon, tmp_path):
    st = os.statvfs(tmp_path)
    config = tmp_path / "daemon.toml"
    config.write_text(f"min_free_space = {st.f_blocks * st.f_frsize}\n")  # the whole disk
    daemon = make_daemon("a", SYNCD_CONFIG=str(config))
    put(daemon, "report.pdf", b"%PDF" * 2000)  # there before the start: the full pass fails it
    daemon.start()
    (error,) = eventually(lambda: low_space_errors(daemon), what="the low-space error")
    assert error["path"] == "report.pdf" and "min_free_space" in str(error["reason"])
    assert files_in(daemon.folder) == set()

    config.write_text('min_free_space = "off"\n')
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    assert "min_free_space=" in daemon.wait_for("event=reload")
    eventually(lambda: (daemon.folder / "report.pdf").is_file(), what="the download")
    assert (daemon.folder / "report.pdf").read_bytes() == b"%PDF" * 2000
    eventually(lambda: not low_space_errors(daemon), what="the error cleared")


def test_the_download_goes_when_space_frees(small_disk: Path, make_daemon, tmp_path: Path):
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (22 * MIB))  # leaves about 10 MiB free
    daemon = make_daemon("disk/folder", SYNCD_MIN_FREE_SPACE="8MiB")
    daemon.start()
    data = os.urandom(3 * MIB)  # would leave about 7 MiB: less than the 8 kept free
    put(daemon, "video.bin", data)
    (error,) = eventually(lambda: low_space_errors(daemon), what="the low-space error")
    assert error["path"] == "video.bin"
    assert files_in(small_disk / "folder") == set()  # not even a temp file

    filler.unlink()
    eventually(lambda: (daemon.folder / "video.bin").is_file(), timeout=30, what="the download")
    assert (daemon.folder / "video.bin").read_bytes() == data
    assert any("event=disk_space_freed" in line for line in daemon.lines)
