"""A change feed that does not move forward is a protocol error, never an endless loop.

Found by outside testing: a feed answering ``has_more: true`` without advancing
``end_revision`` made ``syncd sync`` ask the same page forever, about 20 requests a
second. The client follows ``has_more`` from ``end_revision``, so ``end_revision`` must
pass ``from_revision`` whenever ``has_more`` is set, and may never fall behind it (a server
whose history changed answers 410). Now either is exit 4 with one line, after one request.
"""

from __future__ import annotations

import pytest

from tests.faults.test_hostile_server import FULL_CAPABILITIES, hostile, sync_against

__all__ = ["hostile"]

LOOPING = 200  # the hostile feed gives up after this many pages, so an old client ends


def _page(end: int, *, has_more: bool) -> dict:
    return {"end_revision": end, "created": [], "updated": [], "deleted": [], "has_more": has_more}


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        ({0: (0, True)}, "has_more without end_revision advancing past 0"),
        ({0: (5, True), 5: (5, True)}, "has_more without end_revision advancing past 5"),
        ({0: (5, True), 5: (3, False)}, "end_revision 3 is behind from_revision 5"),
        ({0: (5, True), 5: (3, True)}, "end_revision 3 is behind from_revision 5"),
    ],
    ids=["stuck-at-zero", "stuck-later", "backwards", "backwards-with-more"],
)
def test_feed_that_does_not_advance_is_refused(hostile, tmp_path, pages, message):
    app, url = hostile
    app.capabilities = FULL_CAPABILITIES
    asked: list[int] = []

    def feed(start: int) -> dict:
        asked.append(start)
        if len(asked) > LOOPING:
            return _page(start, has_more=False)
        end, has_more = pages.get(start, (start, False))
        return _page(end, has_more=has_more)

    app.feed = feed
    folder = tmp_path / "folder"
    folder.mkdir()
    proc = sync_against(url, folder, tmp_path / "state")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 4, (proc.returncode, len(asked), proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert len(asked) <= 2, asked
