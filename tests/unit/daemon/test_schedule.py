"""The daemon's schedule with a fake clock: each rule of docs/daemon.md about when a pass runs.

Debounce is the coalescer's (tests/unit/watcher/test_coalesce.py) and ``feed_wait`` the
remote watcher's (test_remote.py): the schedule sees their output as events.
"""

from __future__ import annotations

import pytest

from syncd.daemon.schedule import PRUNE_INTERVAL, Pass, Schedule
from syncd.daemon.steps import PassResult

START = 1000.0
RESCAN = 6 * 3600.0
POLL = 30.0
FULL = Pass(is_full=True, is_loud=True)
SCOPED = Pass(is_full=False, is_loud=True)
QUIET_FULL = Pass(is_full=True, is_loud=False)
QUIET = Pass(is_full=False, is_loud=False)


def fresh() -> Schedule:
    """A schedule at start, its first prune done."""
    schedule = Schedule(START, rescan_interval=RESCAN, poll_interval=POLL)
    assert schedule.take_prune(START)
    return schedule


def started(*, has_feed: bool = True) -> Schedule:
    """A schedule whose first full pass succeeded and whose feed is known."""
    schedule = fresh()
    assert schedule.take_pass(START) == FULL
    schedule.pass_ended(PassResult.DONE, START)
    assert schedule.is_feed_due
    schedule.feed_known(has_feed, START)
    return schedule


def fail(schedule: Schedule, now: float, outcome: PassResult = PassResult.OFFLINE) -> float:
    """Run the pass due at ``now`` into ``outcome``; the delay until its retry."""
    assert schedule.take_pass(now) is not None
    schedule.pass_ended(outcome, now)
    return schedule.next_due(now) - now


# -- start and idle ----------------------------------------------------------------------


def test_the_first_pass_is_a_full_one_due_at_once() -> None:
    schedule = fresh()
    assert schedule.next_due(START) == START
    assert schedule.take_pass(START) == FULL


def test_an_idle_daemon_sleeps_until_the_next_timer() -> None:
    schedule = started()
    assert not schedule.is_feed_due
    assert schedule.take_pass(START + 1) is None
    assert schedule.take_prune(START + 1) is False
    assert schedule.next_due(START + 1) == START + RESCAN  # before the daily prune


# -- events ------------------------------------------------------------------------------


def test_settled_local_changes_are_a_scoped_pass_at_once() -> None:
    schedule = started()
    schedule.local_changed()
    assert schedule.next_due(START + 5) == START + 5
    assert schedule.take_pass(START + 5) == SCOPED
    assert schedule.take_pass(START + 5) is None  # one pass per event


def test_lost_local_events_are_a_full_pass() -> None:
    schedule = started()
    schedule.local_changed(rescan=True)
    assert schedule.take_pass(START + 5) == FULL
    schedule.pass_ended(PassResult.DONE, START + 6)
    schedule.local_changed()
    assert schedule.take_pass(START + 7) == SCOPED


def test_changed_exclude_rules_are_a_full_pass_at_once() -> None:
    schedule = started()
    schedule.excludes_changed()
    assert schedule.next_due(START + 2) == START + 2
    assert schedule.take_pass(START + 2) == FULL
    schedule.pass_ended(PassResult.DONE, START + 3)
    assert schedule.take_pass(START + 4) is None


def test_a_remote_change_is_a_scoped_pass_at_once() -> None:
    schedule = started()
    schedule.remote_changed(START + 3)
    assert schedule.take_pass(START + 3) == SCOPED


def test_events_during_a_pass_get_a_pass_of_their_own() -> None:
    schedule = started()
    schedule.local_changed()
    assert schedule.take_pass(START + 1) == SCOPED
    schedule.remote_changed(START + 2)  # while the pass runs
    schedule.pass_ended(PassResult.DONE, START + 3)
    assert schedule.take_pass(START + 3) == SCOPED


# -- timers ------------------------------------------------------------------------------


def test_a_full_rescan_runs_every_rescan_interval() -> None:
    schedule = started()
    assert schedule.take_pass(START + RESCAN - 1) is None
    assert schedule.take_pass(START + RESCAN) == FULL
    schedule.pass_ended(PassResult.DONE, START + RESCAN + 2)
    assert schedule.next_due(START + RESCAN + 2) == START + 2 * RESCAN


def test_a_server_without_feed_is_listed_quietly_every_poll_interval() -> None:
    schedule = started(has_feed=False)
    assert schedule.next_due(START) == START + POLL
    assert schedule.take_pass(START + POLL - 0.1) is None
    assert schedule.take_pass(START + POLL) == QUIET_FULL
    schedule.pass_ended(PassResult.DONE, START + POLL)
    assert schedule.next_due(START + POLL) == START + 2 * POLL


def test_a_local_change_makes_a_poll_pass_loud() -> None:
    schedule = started(has_feed=False)
    schedule.local_changed()
    assert schedule.take_pass(START + POLL) == FULL


def test_a_server_with_a_feed_is_not_polled() -> None:
    schedule = started(has_feed=True)
    for now in (START + POLL, START + 10 * POLL):
        assert schedule.take_pass(now) is None


def test_the_feed_is_started_after_the_first_successful_pass_only() -> None:
    schedule = fresh()
    fail(schedule, START)
    assert not schedule.is_feed_due
    assert schedule.take_pass(START + 1) == QUIET_FULL
    schedule.pass_ended(PassResult.DONE, START + 2)
    assert schedule.is_feed_due
    schedule.feed_known(True, START + 2)
    schedule.local_changed()
    assert schedule.take_pass(START + 3) == SCOPED
    schedule.pass_ended(PassResult.DONE, START + 4)
    assert not schedule.is_feed_due


def test_the_trash_is_pruned_at_start_and_once_a_day() -> None:
    schedule = Schedule(START, rescan_interval=RESCAN, poll_interval=POLL)
    assert schedule.take_prune(START)
    assert not schedule.take_prune(START)
    assert not schedule.take_prune(START + PRUNE_INTERVAL - 1)
    assert schedule.take_prune(START + PRUNE_INTERVAL)
    assert not schedule.take_prune(START + PRUNE_INTERVAL + 1)


def test_a_reload_sets_the_intervals_of_the_next_timers() -> None:
    schedule = started(has_feed=False)
    schedule.reloaded(rescan_interval=3600.0, poll_interval=5.0)
    assert schedule.take_pass(START + POLL) == QUIET_FULL
    schedule.pass_ended(PassResult.DONE, START + POLL)
    assert schedule.next_due(START + POLL) == START + POLL + 5.0
    assert schedule.take_pass(START + RESCAN) is not None
    schedule.pass_ended(PassResult.DONE, START + RESCAN)
    assert schedule.take_pass(START + RESCAN + 3600.0) == FULL


# -- .syncdignore ------------------------------------------------------------------------


def test_changed_rules_make_the_pass_in_flight_a_full_one() -> None:
    schedule = started()
    schedule.local_changed()  # a .syncdignore event is a local change: it wakes a pass
    assert schedule.take_pass(START + 1) == SCOPED
    schedule.ignore_changed()  # the pass read new rules: the loop runs it full
    schedule.pass_ended(PassResult.DONE, START + 2)
    schedule.local_changed()
    assert schedule.take_pass(START + 3) == SCOPED  # the rules of now were synced in full


@pytest.mark.parametrize("outcome", [PassResult.OFFLINE, PassResult.ERROR, PassResult.PAUSED])
def test_changed_rules_owe_a_full_pass_until_one_succeeds(outcome: PassResult) -> None:
    """No event names the paths the new rules let in: only a full pass finds them."""
    schedule = started()
    schedule.local_changed()
    assert schedule.take_pass(START + 1) == SCOPED
    schedule.ignore_changed()
    schedule.pass_ended(outcome, START + 2)
    schedule.remote_changed(START + 3)
    assert schedule.take_pass(START + 3) == FULL


# -- offline, errors, backoff ------------------------------------------------------------


@pytest.mark.parametrize("outcome", [PassResult.OFFLINE, PassResult.ERROR])
def test_failed_passes_are_retried_from_1s_doubling_to_60s(outcome: PassResult) -> None:
    schedule = started()
    schedule.local_changed()
    now, delays = START + 1, []
    for _ in range(9):
        delays.append(fail(schedule, now, outcome))
        now += delays[-1]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_a_success_resets_the_backoff() -> None:
    schedule = started()
    schedule.local_changed()
    assert fail(schedule, START + 1) == 1.0
    assert fail(schedule, START + 2) == 2.0
    assert schedule.take_pass(START + 4) == QUIET
    schedule.pass_ended(PassResult.DONE, START + 4)
    schedule.local_changed()
    assert fail(schedule, START + 5) == 1.0


def test_local_changes_while_offline_wait_for_the_retry() -> None:
    schedule = started()
    schedule.local_changed()
    fail(schedule, START + 1)  # retry at START + 2
    schedule.local_changed()
    assert schedule.take_pass(START + 1.5) is None
    assert schedule.next_due(START + 1.5) == START + 2
    assert schedule.take_pass(START + 2) == SCOPED


def test_a_remote_change_ends_the_backoff_at_once() -> None:
    schedule = started()
    schedule.local_changed()
    for now in range(1, 8):  # the backoff grows to 64 s
        fail(schedule, START + 2**now)
    schedule.remote_changed(START + 200)  # the feed answers again
    assert schedule.take_pass(START + 200) == SCOPED


def test_a_failed_full_pass_is_retried_as_a_full_one() -> None:
    schedule = fresh()
    fail(schedule, START, PassResult.ERROR)
    assert schedule.take_pass(START + 1) == QUIET_FULL


def test_a_failed_pass_without_feed_is_retried_as_a_full_one() -> None:
    schedule = started(has_feed=False)
    schedule.local_changed()
    fail(schedule, START + 1)
    assert schedule.take_pass(START + 2) == QUIET_FULL


def test_a_failed_scoped_pass_with_a_feed_stays_scoped() -> None:
    schedule = started(has_feed=True)
    schedule.local_changed()
    fail(schedule, START + 1)
    assert schedule.take_pass(START + 2) == QUIET


def test_a_retry_is_quiet_unless_an_event_came_meanwhile() -> None:
    """The loop still says "syncing" when dirty paths wait: only an idle retry is quiet."""
    schedule = started()
    schedule.local_changed()
    fail(schedule, START + 1)
    schedule.local_changed()
    assert schedule.take_pass(START + 2) == SCOPED


def test_failed_items_are_retried_from_5s_doubling_to_300s() -> None:
    schedule = started()
    schedule.local_changed()
    now, delays = START + 1, []
    for _ in range(8):
        assert schedule.take_pass(now) is not None
        schedule.pass_ended(PassResult.DONE, now + 0.5, has_dirty=True)
        delays.append(schedule.next_due(now) - now)
        now += delays[-1]
    assert delays == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]
    assert schedule.take_pass(now) == QUIET
    schedule.pass_ended(PassResult.DONE, now, has_dirty=False)  # all synced: reset
    assert schedule.take_pass(now + 300) is None
    schedule.local_changed()
    assert schedule.take_pass(now + 301) == SCOPED
    schedule.pass_ended(PassResult.DONE, now + 301, has_dirty=True)
    assert schedule.next_due(now + 301) == now + 306


# -- safety stop -------------------------------------------------------------------------


def test_a_paused_pass_is_not_retried_by_itself() -> None:
    schedule = started()
    schedule.local_changed()
    assert schedule.take_pass(START + 1) == SCOPED
    schedule.pass_ended(PassResult.PAUSED, START + 1)
    assert schedule.take_pass(START + 1000) is None
    assert schedule.next_due(START + 1000) == START + RESCAN


def test_a_paused_pass_is_checked_again_on_the_next_event() -> None:
    schedule = started()
    schedule.local_changed()
    schedule.take_pass(START + 1)
    schedule.pass_ended(PassResult.PAUSED, START + 1)
    schedule.remote_changed(START + 50)
    assert schedule.take_pass(START + 50) == SCOPED


def test_a_paused_full_pass_stays_full_and_keeps_the_backoff() -> None:
    schedule = fresh()
    assert fail(schedule, START) == 1.0
    assert schedule.take_pass(START + 1) == QUIET_FULL
    schedule.pass_ended(PassResult.PAUSED, START + 1)
    schedule.local_changed()
    assert schedule.take_pass(START + 9) == FULL
    schedule.pass_ended(PassResult.OFFLINE, START + 9)
    assert schedule.next_due(START + 9) == START + 11  # 2 s: the backoff went on


# -- stop --------------------------------------------------------------------------------


def test_a_stop_ends_a_backoff_at_once() -> None:
    schedule = started()
    schedule.local_changed()
    for now in range(1, 8):
        fail(schedule, START + 2**now)
    schedule.stop()
    assert schedule.is_stopped
    assert schedule.next_due(START + 130) == START + 130
    assert schedule.take_pass(START + 10**6) is None
    assert not schedule.take_prune(START + 10**6)
