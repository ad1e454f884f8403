"""Outcomes hold the error of an op that did not finish, so its title and hint are shown."""

from __future__ import annotations

import pytest

from syncd.errors import ItemError, PreconditionFailed
from syncd.planner import ops
from syncd.worker import ops as worker_ops
from syncd.worker.outcome import Outcome, Status

OP = ops.Upload("a.txt", ops.Reason.LOCAL_NEW)


def test_a_failed_outcome_reads_title_message_and_hint() -> None:
    error = ItemError("cannot read 'a.txt': denied", path="a.txt", hint="check it")
    outcome = Outcome(OP, Status.FAILED, error=error)
    assert outcome.error is error
    assert outcome.detail == "cannot read 'a.txt': denied"  # as before, for its readers
    assert outcome.reason == "item error: cannot read 'a.txt': denied (check it)"


def test_an_outcome_without_an_error_reads_its_detail() -> None:
    assert Outcome(OP, Status.REPLAN, detail="moved on").reason == "moved on"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ItemError("bad", path="a.txt", hint="fix it"), Status.FAILED),
        (PreconditionFailed("a.txt: lost a race"), Status.REPLAN),
    ],
)
def test_run_op_keeps_the_error_it_caught(
    monkeypatch: pytest.MonkeyPatch, error: Exception, status: Status
) -> None:
    def fail(ctx: object, op: ops.Op) -> Outcome:
        raise error

    monkeypatch.setattr(worker_ops, "_dispatch", fail)
    monkeypatch.setattr(worker_ops.links, "is_link_op", lambda ctx, op: False)
    outcome = worker_ops.run_op(object(), OP)  # type: ignore[arg-type]
    assert outcome.status is status and outcome.error is error and outcome.op is OP
