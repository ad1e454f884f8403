"""The user's pause in the Schedule, driven by a fake clock (numbers passed in)."""

from __future__ import annotations

from syncd.daemon.schedule import Schedule
from syncd.daemon.steps import PassResult


def settled(now: float = 0.0) -> Schedule:
    """A schedule whose first full pass is done: nothing due until an event."""
    schedule = Schedule(now, rescan_interval=1000.0, poll_interval=10.0)
    assert schedule.take_pass(now) is not None
    schedule.pass_ended(PassResult.DONE, now)
    assert schedule.take_prune(now)
    assert schedule.take_pass(now) is None
    return schedule


def test_a_pause_holds_passes_and_keeps_the_event_for_resume() -> None:
    schedule = settled()
    schedule.pause()
    schedule.local_changed()
    schedule.remote_changed(1.0)
    assert schedule.take_pass(2.0) is None
    assert schedule.is_paused(5000.0)  # no rescan timer ends it either
    assert schedule.take_pass(5000.0) is None
    schedule.resume()
    run = schedule.take_pass(5001.0)
    assert run is not None and run.is_loud


def test_a_timed_pause_ends_by_itself_and_owes_a_pass() -> None:
    schedule = settled()
    schedule.pause(until=60.0)
    assert schedule.next_due(10.0) == 60.0
    assert schedule.take_pass(59.9) is None
    assert not schedule.is_paused(60.0)
    assert schedule.take_pass(60.0) is not None


def test_a_pause_holds_the_prune() -> None:
    schedule = settled()
    schedule.pause()
    assert not schedule.take_prune(200000.0)
    schedule.resume()
    assert schedule.take_prune(200000.0)


def test_resume_without_a_pause_owes_nothing() -> None:
    schedule = settled()
    schedule.resume()
    assert schedule.take_pass(1.0) is None


def test_a_stop_while_paused_is_due_at_once() -> None:
    schedule = settled()
    schedule.pause()
    schedule.stop()
    assert schedule.next_due(3.0) == 3.0
    assert schedule.take_pass(3.0) is None
