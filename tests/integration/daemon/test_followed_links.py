"""The daemon with ``symlinks = follow``: an edit of a link's target reaches the link's path
on the server at once (the scoped pass of the target covers its links), and a skipped link
is reported once, not on every pass."""

from __future__ import annotations

import hashlib
import os

from tests.integration.daemon.daemons import eventually, start_all, write
from tests.support.clients import remote_tree


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_an_edit_of_the_target_reaches_the_link_and_links_out_are_reported_once(
    make_daemon, tmp_path
):
    a = make_daemon("a", SYNCD_SYMLINKS="follow")
    write(a.folder / "docs/a.txt", "v1")
    os.symlink("docs/a.txt", a.folder / "link.txt")
    write(tmp_path / "outside.txt", "never uploaded")
    os.symlink(tmp_path / "outside.txt", a.folder / "out.txt")
    start_all(a)

    def remote() -> dict[str, str]:
        return remote_tree(a.server, a.api_key, a.workspace)

    eventually(lambda: remote().get("link.txt") == sha("v1"), what="link.txt uploaded")
    write(a.folder / "docs/a.txt", "v2, edited through its real path")
    eventually(
        lambda: remote().get("link.txt") == sha("v2, edited through its real path"),
        what="the link's path follows its target",
    )
    write(a.folder / "other.txt", "one more pass")
    eventually(lambda: "other.txt" in remote(), what="another pass ran")
    assert "out.txt" not in remote()
    assert sum("event=skipped path=out.txt" in line for line in a.lines) == 1
    assert os.path.islink(a.folder / "link.txt")
