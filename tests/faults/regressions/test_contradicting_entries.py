"""A listing that names one path both as a file and as a directory must be reported.

Found by the hostile-server test: ``syncd/remote/listing.py`` keys the listing by path
(``tree[node.path] = node``), so the later of two contradicting entries silently wins
(here the directory is created) and the other is neither synced nor reported. Now such a
path is reported and kept out of the plan, so it is neither synced nor deleted.
"""

from __future__ import annotations

from tests.faults.test_hostile_server import CONTRADICTING, hostile, sync_against

__all__ = ["hostile"]


def test_path_listed_as_file_and_directory_is_reported(hostile, tmp_path):
    _app, url = hostile
    folder = tmp_path / "folder"
    folder.mkdir()
    proc = sync_against(url, folder, tmp_path / "state")
    assert proc.returncode == 1, proc.stderr
    reported = [line for line in proc.stderr.splitlines() if line.startswith("could not sync")]
    assert any(line.split(":")[0].endswith(f" {CONTRADICTING}") for line in reported), reported
