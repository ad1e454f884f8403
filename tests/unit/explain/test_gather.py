"""gather.py: which mode the plan is made in."""

from __future__ import annotations

import pytest

from syncd.config import Settings
from syncd.explain.gather import plan_mode


@pytest.mark.parametrize(
    ("configured", "last_pass", "given", "expected"),
    [
        ("two-way", None, False, ("two-way", "settings")),
        ("two-way", "upload-only", False, ("upload-only", "last sync")),  # a daemon's --mode
        ("download-only", "upload-only", False, ("download-only", "settings")),
        ("two-way", "upload-only", True, ("two-way", "option")),
        ("two-way", "two-way", False, ("two-way", "settings")),
    ],
)
def test_the_plan_mode(configured, last_pass, given, expected):
    assert plan_mode(Settings(mode=configured), last_pass, is_given=given) == expected
