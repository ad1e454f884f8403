"""Whether the daemon that wrote a status row still runs: a killed one leaves its row."""

from __future__ import annotations

import os


def is_running(pid: int | None) -> bool:
    """A process with this pid exists (one of another user's counts: it answers EPERM)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
