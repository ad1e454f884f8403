"""Long-poll wake-ups: one asyncio notification per workspace, fired after a commit.

1. ``ticket`` is taken before the database is read, ``wait`` after: a commit that lands
   between the two still wakes the waiter, so no change is ever slept through.
2. No timers and no polling: a waiter sleeps until a notification or its deadline.
3. ``close`` wakes everyone at shutdown so in-flight long polls answer at once.
"""

from __future__ import annotations

import asyncio


class FeedEvents:
    """Per-workspace events; each ``notify`` sets the current event and starts a new one."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self.closed = False

    def ticket(self, workspace_id: str) -> asyncio.Event:
        event = self._events.get(workspace_id)
        if event is None:
            event = self._events[workspace_id] = asyncio.Event()
        if self.closed:
            event.set()
        return event

    def notify(self, workspace_id: str) -> None:
        event = self._events.pop(workspace_id, None)
        if event is not None:
            event.set()

    async def wait(self, ticket: asyncio.Event, timeout: float) -> bool:
        """True when a change was signalled before ``timeout`` seconds passed."""
        if timeout <= 0:
            return ticket.is_set()
        try:
            await asyncio.wait_for(ticket.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def wake_all(self) -> None:
        """Wake every waiter (they re-read the database): a change may have gone unheard."""
        for event in self._events.values():
            event.set()
        self._events.clear()

    def close(self) -> None:
        self.closed = True
        for event in self._events.values():
            event.set()
        self._events.clear()
