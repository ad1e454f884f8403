"""The error tree: its docstring is its drawing, and every class says what to do next."""

from __future__ import annotations

import re

import pytest

import syncd.local.errors
import syncd.protocol.records
from syncd import errors
from syncd.planner.ops import RefusalKind


def _classes() -> dict[str, type[errors.SyncdError]]:
    found: dict[str, type[errors.SyncdError]] = {}
    for module in (errors, syncd.local.errors, syncd.protocol.records):
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, errors.SyncdError)
                and value.__module__ == module.__name__
            ):
                found[name] = value
    return found


def _drawing() -> dict[str, str | None]:
    """Each class drawn in the docstring -> the class drawn as its parent."""
    assert errors.__doc__ is not None
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in errors.__doc__.splitlines():
        match = re.match(r"^(\s+)(?:[│ ]*[├└]── )?([A-Z]\w+)\b", line)
        if match is None or not (match.group(2).endswith(("Error", "Stop")) or "──" in line):
            continue
        depth = len(line) - len(line.lstrip(" │├└─"))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match.group(2)] = stack[-1][1] if stack else None
        stack.append((depth, match.group(2)))
    return parents


def test_the_docstring_draws_the_tree_as_it_is() -> None:
    drawn = _drawing()
    classes = _classes()
    for name, parent in drawn.items():
        if name == "RecordError":
            continue  # drawn as the head of its family in protocol/records.py
        assert name in classes, f"{name} is drawn but not defined"
        expected = classes[name].__mro__[1].__name__
        assert parent == (None if name == "SyncdError" else expected), name
    undrawn = {
        n for n, c in classes.items() if n not in drawn and not issubclass(c, _record_error())
    }
    assert not undrawn, f"classes missing from the drawing: {sorted(undrawn)}"


def _record_error() -> type:
    return syncd.protocol.records.RecordError


def test_every_refusal_kind_raises_its_own_safety_stop() -> None:
    assert set(errors.REFUSALS) == {k.value for k in RefusalKind}
    assert errors.REFUSALS[RefusalKind.MASS_DELETE] is errors.MassDelete
    assert errors.REFUSALS[RefusalKind.ROOT_VANISHED] is errors.RootVanished
    assert all(c.exit_code == 5 for c in errors.REFUSALS.values())


@pytest.mark.parametrize(
    ("exc", "ambiguous"),
    [
        (errors.ServerBusy("503"), False),
        (errors.ServerBusy("429", retry_after=3, hint="later"), False),
        (errors.ServerFault("500"), True),
        (errors.ConnectionLost("reset"), True),
        (errors.ConnectionLost("refused", ambiguous=False), False),
        (errors.Transient("x"), False),
    ],
)
def test_ambiguous_is_declared_by_the_class_or_the_constructor(
    exc: errors.Transient, ambiguous: bool
) -> None:
    assert exc.ambiguous is ambiguous


def test_the_class_default_is_not_shadowed_per_instance() -> None:
    assert "ambiguous" not in vars(errors.ServerFault("500"))
    assert errors.ConnectionLost("refused", ambiguous=False).ambiguous is False
    assert errors.ConnectionLost.ambiguous is True  # another instance changed no class


def test_describe_shows_title_message_and_hint() -> None:
    exc = errors.ItemError("cannot read 'a.txt': denied", path="a.txt", hint="check it")
    assert exc.describe() == "item error: cannot read 'a.txt': denied (check it)"
    assert errors.TooLarge().describe() == "too large"
    assert errors.ServerBusy("busy", hint="wait").hint == "wait"
