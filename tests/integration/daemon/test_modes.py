"""The daemon in a one-way mode: ``syncd run --mode download-only`` (here through
SYNCD_MODE) follows the server and writes nothing to it; `status` shows the mode."""

from __future__ import annotations

import json

from tests.integration.daemon.daemons import eventually, start_all, write
from tests.support.clients import remote_tree


def test_a_download_only_daemon_follows_the_server_and_writes_nothing_to_it(make_daemon):
    a = make_daemon("a", SYNCD_MODE="download-only")
    b = make_daemon("b")
    start_all(a, b)
    write(a.folder / "mine.txt", "stays here")
    write(b.folder / "theirs.txt", "from b")
    eventually(lambda: (a.folder / "theirs.txt").exists(), what="a downloaded theirs.txt")
    write(b.folder / "later.txt", "from b, later")
    eventually(lambda: (a.folder / "later.txt").exists(), what="a downloaded later.txt")
    eventually(a.is_quiet, what="a settled")
    assert set(remote_tree(a.server, a.api_key, a.workspace)) == {"theirs.txt", "later.txt"}
    assert not (b.folder / "mine.txt").exists()
    assert json.loads(a.status().stdout)["mode"] == "download-only"
