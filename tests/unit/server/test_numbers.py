"""Numbers in headers and query parameters: ASCII digits within 64 bits, nothing else."""

from __future__ import annotations

import pytest

from syncd.server.http import INT64_MAX, digits_value, parse_count
from syncd.server.service.errors import InvalidParameter


@pytest.mark.parametrize(
    "text", ["", "\u00b2", "\u0663", "\uff11", "1_0", "+1", " 1", "1 ", "-0", "0x1"]
)
def test_not_digits(text: str) -> None:
    assert digits_value(text) is None
    with pytest.raises(InvalidParameter):
        parse_count(text, "n")


def test_digits_of_any_length_never_reach_int() -> None:
    assert digits_value("9" * 5000) == INT64_MAX + 1
    assert digits_value("0" * 5000 + "7") == 7
    assert digits_value(str(INT64_MAX)) == INT64_MAX
    with pytest.raises(InvalidParameter):
        parse_count(str(INT64_MAX + 1), "n")
    assert parse_count(str(INT64_MAX), "n") == INT64_MAX


def test_bounds() -> None:
    assert parse_count("10", "limit", 1, 10) == 10
    with pytest.raises(InvalidParameter):
        parse_count("0", "limit", 1, 10)
