"""What the daemon runs next, and when: a pure value fed with events and the clock's time.

1. Events in: local changes (settled dirty paths, or a rescan after lost events), remote
   changes, whether the server has a change feed, changed ignore rules, the outcome of
   each pass, a reload of the intervals, a stop. Out: whether a pass is due now (full or scoped, loud or quiet),
   whether the trash prune is due, and the clock time of the next deadline.
2. The first pass is a full one, due at once. A full pass is owed after lost events,
   every ``rescan_interval``, (quietly) every ``poll_interval`` on a server without a
   change feed, and when a pass reads changed ``.syncdignore`` rules; a full pass stays
   owed until one succeeds.
3. A failed pass (offline, error) is retried with a capped backoff (1 s .. 60 s); local
   changes meanwhile wait for the retry, a remote change ends the wait at once (the
   server answers again). A success resets the backoff.
4. A pass that left failed items dirty is retried after 5 s .. 300 s.
5. A safety stop (paused) is never retried by itself: the next event or timer re-checks.
6. The trash prune is due at start and every ``PRUNE_INTERVAL``.
7. After a stop nothing more is due: the stop ends a backoff at once.
8. A pause by the user (``pause``) holds every pass and the prune until it ends, by
   ``resume`` or when its ``until`` passes; events meanwhile are kept, and the end of a
   pause owes a pass, so what changed while paused is synced at once.
9. No clock, thread or I/O inside: every time is passed in, so a fake clock tests it all.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.daemon.steps import Backoff, PassResult

PRUNE_INTERVAL = 86400.0  # the trash is pruned at start and once a day


@dataclass(frozen=True)
class Pass:
    """One sync pass to run now: the whole tree (``is_full``) or the dirty paths.

    ``is_loud`` False: no event asked, only the poll timer or a retry, so the state turns
    to "syncing" only if dirty paths wait or the pass finds work, and an idle daemon stays
    idle in the status and the log.
    """

    is_full: bool
    is_loud: bool


class Schedule:
    """The flags, timers and backoffs of the daemon's loop."""

    def __init__(self, now: float, *, rescan_interval: float, poll_interval: float) -> None:
        self.rescan_interval = rescan_interval
        self.poll_interval = poll_interval
        self._rescan_at = now + rescan_interval
        self._poll_at: float | None = None  # set once the server has no change feed
        self._prune_at = now
        self._retry_at: float | None = None
        self._backoff = Backoff()
        self._item_backoff = Backoff(low=5.0, high=300.0)
        self._is_full = True  # the first pass is the full sync at start
        self._has_event = True
        self._is_loud = True
        self._has_feed: bool | None = None
        self._is_feed_due = False
        self._began: float | None = None  # when the pass in flight was handed out
        self.is_stopped = False
        self._paused = False
        self._pause_until: float | None = None

    # -- events ------------------------------------------------------------------------

    def local_changed(self, *, rescan: bool = False) -> None:
        """Settled dirty paths were recorded; ``rescan``: events were lost, look at all."""
        self._has_event = self._is_loud = True
        if rescan:
            self._is_full = True

    def remote_changed(self, now: float) -> None:
        """The feed moved (or answers again after failures): a pass now, even in backoff."""
        self._has_event = self._is_loud = True
        if self._retry_at is not None:  # the server answers again: no need to wait
            self._retry_at = now

    def feed_known(self, has_feed: bool, now: float) -> None:
        """Whether the server has a change feed; without one it is listed every interval."""
        self._has_feed = has_feed
        self._is_feed_due = False
        if not has_feed:
            self._poll_at = now + self.poll_interval

    def retry_now(self, now: float) -> None:
        """What made items fail may be cured (disk space freed, a reload): the retry of a
        pass that left failed items is due now, not at the end of its backoff."""
        if self._retry_at is not None:
            self._retry_at = now

    def reloaded(self, *, rescan_interval: float, poll_interval: float) -> None:
        """New intervals, counted from when each timer was last armed (as if they had
        been set then): a shorter one may be due at once, a longer one waits longer."""
        self._rescan_at += rescan_interval - self.rescan_interval
        if self._poll_at is not None:
            self._poll_at += poll_interval - self.poll_interval
        self.rescan_interval = rescan_interval
        self.poll_interval = poll_interval

    def excludes_changed(self) -> None:
        """This device's exclude rules changed (``syncd exclude``): a full pass now, since
        no file event names what they take out or let in."""
        self._has_event = self._is_loud = self._is_full = True

    def ignore_changed(self) -> None:
        """The pass in flight read new root rules: it is a full one, and so is each retry
        until one succeeds, since no event names the paths the new rules let in."""
        self._is_full = True

    def pass_ended(self, outcome: PassResult, now: float, *, has_dirty: bool = False) -> None:
        """The pass handed out by ``take_pass`` ended; ``has_dirty``: failed items stay."""
        began = now if self._began is None else self._began
        self._began = None
        if outcome is PassResult.DONE:
            self._is_full = False
            self._backoff.reset()
            if has_dirty:  # failed items stay dirty: retry them later
                self._retry_at = began + self._item_backoff.next()
            else:
                self._item_backoff.reset()
            self._is_feed_due = self._has_feed is None
        elif outcome is not PassResult.PAUSED:  # paused: re-checked on the next event only
            self._retry_at = now + self._backoff.next()
            # Without a feed nothing tells what changed remotely while offline.
            self._is_full = self._is_full or self._has_feed is False

    def pause(self, until: float | None = None) -> None:
        """Paused by the user until ``until`` (a clock time; None: until ``resume``)."""
        self._paused, self._pause_until = True, until

    def resume(self) -> None:
        """The pause ended: a pass is owed for what was recorded meanwhile."""
        if self._paused:
            self._paused, self._pause_until = False, None
            self._has_event = self._is_loud = True

    def is_paused(self, now: float) -> bool:
        """Whether a pause holds at ``now``; one whose time ran out ends here."""
        if self._paused and self._pause_until is not None and now >= self._pause_until:
            self.resume()
        return self._paused

    def stop(self) -> None:
        """Nothing more is due, whatever wait was running."""
        self.is_stopped = True

    # -- decisions ---------------------------------------------------------------------

    @property
    def is_feed_due(self) -> bool:
        """True after the first successful pass: time to learn whether a feed exists."""
        return self._is_feed_due

    def take_prune(self, now: float) -> bool:
        """True when the trash prune is due now; it is then due again a day later."""
        if self.is_stopped or self.is_paused(now) or now < self._prune_at:
            return False
        self._prune_at = now + PRUNE_INTERVAL
        return True

    def take_pass(self, now: float) -> Pass | None:
        """The pass to run now, or None; the caller reports its end to ``pass_ended``."""
        if self.is_stopped or self.is_paused(now):
            return None
        if now >= self._rescan_at:
            self._rescan_at = now + self.rescan_interval
            self._is_full = self._has_event = self._is_loud = True
        if self._poll_at is not None and now >= self._poll_at:
            self._poll_at = now + self.poll_interval
            self._is_full = self._has_event = True
        if self._retry_at is not None:
            if now < self._retry_at:
                return None
        elif not self._has_event:
            return None
        run = Pass(is_full=self._is_full, is_loud=self._is_loud)
        self._has_event = self._is_loud = False
        self._retry_at = None
        self._began = now
        return run

    def next_due(self, now: float) -> float:
        """The clock time by which the loop must ask again (``now`` when it is due now)."""
        if self.is_stopped:
            return now
        if self.is_paused(now):
            return now + 3600.0 if self._pause_until is None else self._pause_until
        if self._retry_at is None and self._has_event:
            return now
        marks = [self._rescan_at, self._prune_at, self._poll_at, self._retry_at]
        return min(t for t in marks if t is not None)
