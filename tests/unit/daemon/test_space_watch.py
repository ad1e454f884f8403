"""The daemon's wait for disk space: armed by refused downloads, freed by ``statvfs``."""

from __future__ import annotations

from pathlib import Path

from syncd.daemon.schedule import Schedule
from syncd.daemon.space_watch import SpaceWatch
from syncd.daemon.steps import PassResult
from syncd.errors import ItemError
from syncd.local.space import LowDiskSpace
from syncd.planner import ops
from syncd.worker.outcome import Outcome, Status


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def refused(path: str, folder: Path, needed: int) -> Outcome:
    error = LowDiskSpace("no room", path=path, folder=folder, free_needed=needed)
    return Outcome(ops.Download(path, ops.Reason.REMOTE_CHANGED), Status.FAILED, error=error)


def test_freed_once_the_smallest_refused_download_fits(tmp_path: Path) -> None:
    clock = Clock()
    watch = SpaceWatch(interval=1.0, clock=clock)
    watch.arm([refused("big", tmp_path, 10**18), refused("small", tmp_path, 1)])
    assert watch.is_armed and watch.free_needed == 1
    assert not watch.is_freed()  # asked within the interval: no statvfs yet
    clock.now = 1.5
    assert watch.is_freed()
    assert not watch.is_armed and not watch.is_freed()


def test_no_room_yet_and_a_pass_without_refusals_disarms(tmp_path: Path) -> None:
    clock = Clock()
    watch = SpaceWatch(interval=1.0, clock=clock)
    watch.arm([refused("big", tmp_path, 10**18)])
    clock.now = 5.0
    assert not watch.is_freed() and watch.is_armed
    other = Outcome(ops.Download("x", ops.Reason.REMOTE_CHANGED), Status.FAILED, error=ItemError())
    watch.arm([other])
    assert not watch.is_armed


def test_retry_now_cuts_the_failed_items_backoff() -> None:
    schedule = Schedule(0.0, rescan_interval=3600.0, poll_interval=30.0)
    run = schedule.take_pass(0.0)
    assert run is not None
    schedule.pass_ended(PassResult.DONE, 1.0, has_dirty=True)
    assert schedule.take_pass(2.0) is None  # the item backoff is 5 s
    schedule.retry_now(2.0)
    assert schedule.take_pass(2.0) is not None
