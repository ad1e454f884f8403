"""The long-running loop of ``syncd run``: events in, ``Engine.sync`` out, until stopped.

1. The watcher starts before the first full sync, so nothing changed during it is missed.
2. Local events are persisted as dirty paths before they are acted on; a path leaves the
   dirty set only after a sync covered it without failing (a kill -9 loses nothing: the
   next start begins with a full sync anyway).
3. Remote changes wake the loop; the engine follows the feed, and the paths the feed
   brought are synced in a second, scoped pass. A base-only server gets a full sync
   every ``poll_interval``; every server gets one every ``rescan_interval``.
4. The loop sleeps on the coalescer's condition (no polling); each wake-up sends the
   systemd watchdog ping, so a hung loop is noticed.
5. Unreachable server: "offline", dirty paths keep being recorded, retries back off from
   1 s to 60 s. Safety stop: "paused" with the reason, re-checked on the next event or
   timer, never in a retry loop. Refused (401/404): the daemon ends with exit 3.
   A bug (an exception outside the error tree) is logged with its traceback at ERROR: in
   a pass it is state "error" and retried with the same backoff, never at once; in the
   feed watcher, which would only fail again, it ends the daemon (exit 1).
6. Every pass first reads the top-level ``.syncdignore`` again; when its rules changed
   (any ``.syncdignore`` event wakes the loop) the pass is a full one, so what the new
   rules exclude is left alone and what they no longer exclude is synced. The watcher
   asks the engine's current rules, never a copy.
7. The trash is pruned (``Trash.prune``: retention and size cap) at start and once a day.
8. A pause by the user (``syncd pause``: a row in the state database, pause.py) is read
   about once a second: while it holds, no pass and no prune run, but the watcher keeps
   recording dirty paths and the feed's news is kept, so the end of the pause (``syncd
   resume``, its ``--for`` running out, or a restart after that) syncs them at once
   without a rescan. A pass already running when the pause is asked for finishes first.
   This device's exclude rules (``syncd exclude``, also rows in the state database) are
   read as often: a change owes a full pass, since no file event names what they cover.
9. The loop keeps no flags or timers of its own: ``Schedule`` (schedule.py) decides what
   runs next and when; the loop waits for an event or its deadline, tells it, runs that.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from syncd.config import Settings, load_settings
from syncd.daemon import pause, reload
from syncd.daemon.desktop import DesktopNotifier
from syncd.daemon.remote import RemoteWatcher
from syncd.daemon.schedule import Pass, Schedule
from syncd.daemon.signals import SignalHandlers
from syncd.daemon.space_watch import SpaceWatch
from syncd.daemon.status import StatusBoard, StopRequested
from syncd.daemon.steps import Backoff, PassReport, PassResult, run_full, run_scoped
from syncd.errors import SafetyStop, ServerRefused, ServerUnreachable, SyncdError, Transient
from syncd.local.ignore import Ignore, read_rules
from syncd.notify import SystemdNotifier
from syncd.session import Session, open_session
from syncd.state import exclude_rules
from syncd.state.schema import DaemonState
from syncd.transport.client import Client
from syncd.watcher import Coalescer, Watcher

log = logging.getLogger("syncd.daemon")

WATCH_KEY = "daemon_watch"  # the folders scanned instead of watched, for ``syncd status``
STUCK_AFTER = 3  # failures of one item before it is a persistent error worth a notice
_UNREAD = object()  # the root rules were not read yet


class Daemon:
    """One folder and one workspace, kept in agreement until ``request_stop``."""

    def __init__(
        self,
        settings: Settings,
        *,
        flags: dict[str, Any] | None = None,
        config_file: str | None = None,
        notifier: SystemdNotifier | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._flags = dict(flags or {})
        self._config_file = config_file
        self.notifier = notifier or SystemdNotifier()
        self.board = StatusBoard()
        self.coalescer = Coalescer(settings.debounce)
        self._clock = clock
        self._reload = threading.Event()
        self._remote_hit = threading.Event()
        self._fatal: Exception | None = None  # why the feed watcher ended: the loop raises it
        self.remote: RemoteWatcher | None = None
        self._feed_client: Client | None = None
        self.session: Session | None = None
        self.space_watch = SpaceWatch()  # downloads refused for low disk space
        self.started = threading.Event()  # set after the first full sync was attempted
        self.syncs = 0
        self._ignore_text: object = _UNREAD
        self._pause_text: str | None = None  # the user's pause the loop last saw
        self._excludes: list[str] | None = None  # this device's exclude rules, last seen
        self.desktop = DesktopNotifier(enabled=settings.notifications)
        self.watcher: Watcher | None = None
        self._watch_shown: dict[str, Any] | None = None
        self._left: set[str] = set()  # what the last pass left dirty for the next one

    # -- control (signal handlers, other threads) ----------------------------------------

    @property
    def is_stopping(self) -> bool:
        return self.board.stop_event.is_set()

    def request_stop(self) -> None:
        self.board.stop_event.set()
        self.coalescer.wake()

    def request_reload(self) -> None:
        self._reload.set()
        self.coalescer.wake()

    def _on_remote_change(self) -> None:
        self._remote_hit.set()
        self.coalescer.wake()

    def _on_fatal(self, exc: Exception) -> None:
        self._fatal = exc
        self.coalescer.wake()

    # -- life --------------------------------------------------------------------------

    def run(self, *, handle_signals: bool = True) -> int:
        """Run until stopped; 0 on a clean stop. ``ServerRefused`` and ``UsageError`` raise."""
        reload.set_log_level(self.settings.log_level)
        handlers = SignalHandlers(on_stop=self.request_stop, on_reload=self.request_reload)
        if handle_signals:
            handlers.install()
        try:
            with ExitStack() as stack:
                session = self._open(stack)
                if session is None:
                    return 0
                self.session = session
                self._serve(session)
        except StopRequested:
            pass
        finally:
            if handle_signals:
                handlers.restore()
        log.info("event=stopped pid=%d", os.getpid())
        return 0

    def _open(self, stack: ExitStack) -> Session | None:
        """``open_session``, retried with backoff while the server cannot be reached.

        None when a stop was asked for before the server answered.
        """
        backoff = Backoff()
        while True:
            try:
                self._probe()
                return stack.enter_context(
                    open_session(self.settings, progress=self.board, command="syncd run")
                )
            except (ServerUnreachable, Transient) as exc:
                delay = backoff.next()
                self.notifier.status(f"offline: {exc}")
                log.warning("event=offline at=start retry_in=%.0fs error=%s", delay, exc)
                if self.board.stop_event.wait(delay):
                    return None

    def _probe(self) -> None:
        """One request without the transport's retries: a stop while the server is down
        must not wait for a retry schedule to run out."""
        with Client(replace(self.settings.transport(), max_retries=0)) as probe:
            probe.workspaces.list()

    def _serve(self, session: Session) -> None:
        engine, store = session.engine, session.store
        session.client.sleep_between_retries(self.board.sleep)
        self.board.bind(store, self.notifier)
        self.board.set_state(DaemonState.SYNCING, "starting")
        watcher = Watcher(
            engine.root,
            lambda rel, is_dir: engine.ignore.matches(rel, is_dir),  # the rules of now
            self.coalescer,
            state_dir=self.settings.state_dir,
            fallback_interval=self.settings.poll_interval,  # unwatched folders are polled
        )
        self.watcher = watcher
        watcher.start()
        self._publish_watch(session)
        log.info(
            "event=started pid=%d folder=%s workspace=%s",
            os.getpid(),
            engine.root,
            session.workspace_id,
        )
        try:
            self._loop(session)
        finally:
            self.notifier.stopping("stopping")
            if self.remote is not None:
                self.remote.stop()
            if self._feed_client is not None:
                self._feed_client.close()
            watcher.stop()
            try:
                store.meta.set_json(WATCH_KEY, None)
            except Exception:  # as the status row: a stop never fails on it
                log.debug("status: could not clear the watch row", exc_info=True)
            self.board.stopped()

    # -- the loop ----------------------------------------------------------------------

    def _loop(self, session: Session) -> None:
        """Wait for an event or the schedule's deadline, tell the schedule, run what is due."""
        store = session.store
        schedule = Schedule(
            self._clock(),
            rescan_interval=self.settings.rescan_interval,
            poll_interval=self.settings.poll_interval,
        )
        while True:
            if self.is_stopping:
                schedule.stop()  # a wait for a retry ends here, at once
            if schedule.is_stopped:
                return
            self._check_pause(session, schedule)
            self._check_excludes(session, schedule)
            if self._fatal is not None:
                raise self._fatal
            if self._reload.is_set():
                self._reload.clear()
                self._apply_reload(session)
                schedule.reloaded(
                    rescan_interval=self.settings.rescan_interval,
                    poll_interval=self.settings.poll_interval,
                )
                schedule.retry_now(self._clock())  # a new setting may cure failed items
            batch = self.coalescer.take_ready()
            if batch.paths:
                store.dirty.mark(batch.paths)  # recorded before anything acts on them
            if batch:
                schedule.local_changed(rescan=batch.rescan)
            now = self._clock()
            if self._remote_hit.is_set():
                self._remote_hit.clear()
                schedule.remote_changed(now)
            if self.space_watch.is_freed():
                log.info("event=disk_space_freed action=retry")
                schedule.retry_now(now)
            if schedule.take_prune(now):
                self._prune(session)
            run = schedule.take_pass(now)
            if run is not None:
                self._run(session, schedule, run)
            self.coalescer.wait(self._timeout(schedule))
            self.notifier.watchdog()

    def _check_pause(self, session: Session, schedule: Schedule) -> None:
        """Follow the pause row: tell the schedule, the status and the log of a change."""
        now = self._clock()
        found = pause.read(session.store)
        if found is None:
            if self._pause_text is not None:
                self._pause_text = None
                schedule.resume()
                self.board.set_state(DaemonState.IDLE)
                log.info("event=resumed")
            return
        left = None if found.until is None else (found.until - datetime.now(UTC)).total_seconds()
        schedule.pause(None if left is None else now + left)
        text = found.describe()
        if text != self._pause_text:
            self._pause_text = text
            self.board.set_state(DaemonState.PAUSED, text)
            until = "resume" if found.until is None else found.until.isoformat()
            log.info("event=paused_by_user until=%s", until)
        if not self.started.is_set():  # started paused: ready all the same (systemd waits)
            self.started.set()
            self.notifier.ready(self.board.text())

    def _check_excludes(self, session: Session, schedule: Schedule) -> None:
        """Follow ``syncd exclude add|remove``: a full pass when the rules changed."""
        rules = exclude_rules.read(session.store)
        if self._excludes is not None and rules != self._excludes:
            added = ",".join(sorted(set(rules) - set(self._excludes))) or "-"
            removed = ",".join(sorted(set(self._excludes) - set(rules))) or "-"
            log.info("event=excludes_changed added=%s removed=%s", added, removed)
            schedule.excludes_changed()
        self._excludes = rules

    def _run(self, session: Session, schedule: Schedule, run: Pass) -> None:
        """One pass, its outcome told to the schedule; the feed starts after the first."""
        store = session.store
        dirty = set(store.dirty.rows())
        self._left = set()
        outcome = self._step(session, schedule, run, dirty=dirty)
        self._publish_watch(session)
        # Paths the pass left for the next one are no failed items: no retry backoff.
        has_dirty = outcome is PassResult.DONE and bool(set(store.dirty.rows()) - self._left)
        schedule.pass_ended(outcome, self._clock(), has_dirty=has_dirty)
        if outcome is PassResult.DONE and self._left:
            schedule.local_changed()  # the next pass now, for what the feed still brought
        if schedule.is_feed_due:
            schedule.feed_known(self._start_remote(session), self._clock())
        if not self.started.is_set():
            self.started.set()
            self.notifier.ready(self.board.text())

    def _publish_watch(self, session: Session) -> None:
        """Tell ``syncd status`` how many folders the inotify limits left to periodic scans."""
        shown = self.watcher.unwatched.describe() if self.watcher is not None else None
        if shown != self._watch_shown:
            self._watch_shown = shown
            session.store.meta.set_json(WATCH_KEY, shown)

    def _timeout(self, schedule: Schedule) -> float:
        now = self._clock()
        timeout = min(max(0.0, schedule.next_due(now) - now), pause.POLL_INTERVAL)
        interval = self.notifier.watchdog_interval()
        return min(timeout, interval) if interval else timeout

    def _step(
        self, session: Session, schedule: Schedule, run: Pass, *, dirty: set[str]
    ) -> PassResult:
        """One sync pass; every failure becomes a state, never an exception (except 401/404).

        A pass that only the poll timer asked for (a base-only server's listing every
        interval) leaves the state as it is: it turns to "syncing" only when its plan has
        work (``StatusBoard.set_totals``), so an idle daemon stays idle in the status and
        in the log.
        """
        if run.is_loud or dirty:
            self.board.set_state(DaemonState.SYNCING)
        self.syncs += 1
        try:
            if self._refresh_ignore(session):
                schedule.ignore_changed()
                run = replace(run, is_full=True)
            report = self._pass(session, full=run.is_full, dirty=dirty)
        except StopRequested:
            raise
        except SafetyStop as exc:
            self.board.set_state(DaemonState.PAUSED, str(exc))
            log.warning("event=paused reason=%s", exc)
            self.desktop.notify("safety_stop", "sync stopped for safety", str(exc))
            return PassResult.PAUSED
        except ServerRefused:
            raise
        except (ServerUnreachable, Transient) as exc:
            self.board.set_state(DaemonState.OFFLINE, str(exc).splitlines()[0][:200])
            return PassResult.OFFLINE
        except SyncdError as exc:
            self.board.set_state(DaemonState.ERROR, str(exc))
            log.error("event=sync_failed error=%s", exc)
            self.desktop.notify("error", "sync failed", str(exc).splitlines()[0][:200])
            return PassResult.ERROR
        except Exception as exc:  # a bug: its traceback in the log, retried after a backoff
            self.board.set_state(DaemonState.ERROR, f"{type(exc).__name__}: {exc}")
            log.exception("event=sync_failed error=%s: %s", type(exc).__name__, exc)
            self.desktop.notify("error", "sync failed", f"{type(exc).__name__}: {exc}"[:200])
            return PassResult.ERROR
        self._left = report.left
        self._tell_desktop(session, report)
        self.space_watch.arm(o for r in report.reports for o in r.outcomes)
        failed = len(report.failed)
        self.board.set_state(DaemonState.IDLE, f"{failed} failed" if failed else None)
        if self.remote is not None:
            self.remote.synced(session.store.meta.cursor())
        return PassResult.DONE

    def _tell_desktop(self, session: Session, report: PassReport) -> None:
        """A pass ended: notices for its conflicts and for items that keep failing."""
        self.desktop.cleared("safety_stop")
        self.desktop.cleared("error")
        conflicts = [c for r in report.reports for c in r.conflicts]
        if conflicts:
            shown = ", ".join(conflicts[:3]) + (" ..." if len(conflicts) > 3 else "")
            count = len(conflicts)
            self.desktop.notify("conflict", f"{count} conflict{'s' * (count != 1)}", shown)
            self.desktop.cleared("conflict")  # each new conflict is news
        stuck = sorted(e.path for e in session.store.item_errors.rows() if e.count >= STUCK_AFTER)
        if stuck:
            self.desktop.notify(
                "failed", f"{len(stuck)} item(s) keep failing", ", ".join(stuck[:3])
            )
        else:
            self.desktop.cleared("failed")

    def _refresh_ignore(self, session: Session) -> bool:
        """Read the top-level ``.syncdignore`` again; True when its rules changed.

        An unreadable or invalid file raises before anything is synced: the pass fails
        (state "error", retried) rather than run with rules the user has replaced.
        """
        text = read_rules(session.engine.root)
        if text == self._ignore_text:
            return False
        session.engine.ignore = Ignore.from_text(text)
        if self._ignore_text is not _UNREAD:
            log.info("event=ignore_reloaded action=full_sync")
        self._ignore_text = text
        return True

    def _prune(self, session: Session) -> None:
        """Enforce the trash's retention; a failure is logged, the sync goes on (a bug with
        its traceback: it runs once a day, so it cannot spin)."""
        try:
            session.engine.trash.prune()
        except SyncdError as exc:
            log.warning("event=trash_prune_failed error=%s", exc)
        except Exception as exc:
            log.exception("event=trash_prune_failed error=%s: %s", type(exc).__name__, exc)

    def _pass(self, session: Session, *, full: bool, dirty: set[str]) -> PassReport:
        """A full or scoped pass; a scoped refusal is judged again by a full sync.

        The guards of a scoped sync see only the scope (a deleted file is "the whole folder
        emptied"); the full sync sees the whole tree, so its verdict is the one that counts.
        """
        if full:
            return run_full(session, dirty)
        try:
            return run_scoped(session, dirty)
        except SafetyStop as exc:
            log.info("event=scoped_refused action=full_sync reason=%s", exc)
            return run_full(session, set(session.store.dirty.rows()))

    def _start_remote(self, session: Session) -> bool:
        if not session.client.capabilities.changes:
            log.info("event=remote mode=poll interval=%.0fs", self.settings.poll_interval)
            return False
        # Its own connection, without the transport's retries: the watcher backs off by
        # itself, and closing it at shutdown ends a long poll in flight at once.
        self._feed_client = Client(replace(self.settings.transport(), max_retries=0))
        self.remote = RemoteWatcher(
            self._feed_client,
            session.workspace_id,
            wait=self.settings.feed_wait,
            interval=self.settings.poll_interval,
            on_change=self._on_remote_change,
            on_fatal=self._on_fatal,
        )
        self.remote.start()
        self.remote.synced(session.store.meta.cursor())
        log.info("event=remote mode=feed wait=%.0fs", self.remote.wait)
        return True

    def _apply_reload(self, session: Session) -> None:
        self.notifier.reloading("reloading the config")
        try:
            new = load_settings(self._flags, config_file=self._config_file)
        except SyncdError as exc:
            log.error("event=reload_failed error=%s action=keep_old_config", exc)
            self.notifier.ready(self.board.text())
            return
        change = reload.diff(self.settings, new)
        log.info("event=reload %s", reload.describe(self.settings, new, change))
        reload.apply_live(
            session.engine, self.coalescer, new, throttle=session.client.connection.throttle
        )
        self.settings = reload.merge(self.settings, new, change)
        self.desktop.enabled = new.notifications
        if self.remote is not None:
            self.remote.wait = min(max(0.0, new.feed_wait), 60.0)
            self.remote.interval = max(0.1, new.poll_interval)
        self.notifier.ready(self.board.text())
