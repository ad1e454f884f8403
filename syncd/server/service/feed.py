"""E2 change feed without HTTP: one page of changes, held as a long poll when empty.

The long poll takes a wake-up ticket before it reads, then parks on it: a commit that
lands at any moment after the read wakes the request at once; there is no sleep loop.
"""

from __future__ import annotations

import time

from syncd.server import storage
from syncd.server.changes import ChangePage, changes
from syncd.server.context import ServerContext


async def next_page(
    ctx: ServerContext,
    account_id: str,
    workspace_id: str,
    from_revision: int,
    limit: int,
    wait: int,
) -> ChangePage:
    """The changes after ``from_revision``; waits up to ``wait`` seconds for a first one."""
    deadline = time.monotonic() + wait

    def work() -> ChangePage:
        with ctx.db.read() as conn:
            storage.get_workspace(conn, account_id, workspace_id)
            return changes(conn, workspace_id, from_revision, limit)

    while True:
        ticket = ctx.notifier.ticket(workspace_id)
        page = await ctx.run(work)
        remaining = deadline - time.monotonic()
        if not page.is_empty or remaining <= 0 or ctx.notifier.closed:
            return page
        with ctx.metrics.long_polls.track_inprogress():
            await ctx.notifier.wait(ticket, remaining)
