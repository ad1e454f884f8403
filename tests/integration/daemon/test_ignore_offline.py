"""New ``.syncdignore`` rules read by a pass that then failed still get their full sync."""

from __future__ import annotations

from tests.integration.daemon.daemons import FastDaemon, eventually, start_all, write
from tests.support.clients import remote_tree

RELOADED = "event=ignore_reloaded"


def remote(daemon: FastDaemon) -> dict[str, str]:
    return remote_tree(daemon.server, daemon.api_key, daemon.workspace)


def offline_after_reload(daemon: FastDaemon, nth: int) -> bool:
    """True once a line ``event=state state=offline`` follows the ``nth`` rules reload."""
    lines = list(daemon.lines)
    reloads = [i for i, line in enumerate(lines) if RELOADED in line]
    if len(reloads) < nth:
        return False
    return any("event=state state=offline" in line for line in lines[reloads[nth - 1] :])


def test_rules_read_by_a_failed_pass_get_their_full_sync_once_back(make_daemon, server):
    (a,) = start_all(make_daemon("a"))
    write(a.folder / ".syncdignore", "*.log\n")
    eventually(lambda: ".syncdignore" in remote(a), what="the first rules were synced")
    write(a.folder / "keep.log", "excluded at first")
    write(a.folder / "after.txt", "a change after keep.log")
    eventually(lambda: "after.txt" in remote(a), what="after.txt synced")
    assert "keep.log" not in remote(a)

    server.stop()
    write(a.folder / ".syncdignore", "# nothing excluded any more\n")
    eventually(
        lambda: offline_after_reload(a, 2),
        timeout=30,
        what="the pass that read the new rules failed offline",
    )
    server.start()
    # The pass that read the new rules failed: the retry still owes the full sync that
    # finds keep.log, which no event will ever name.
    eventually(lambda: "keep.log" in remote(a), timeout=30, what="keep.log uploaded")
