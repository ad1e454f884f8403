"""The one JSON body parser: what ``json.loads`` lets through is refused with a 400."""

from __future__ import annotations

import pytest

from syncd.server.service.errors import InvalidParameter
from syncd.server.strictjson import MAX_DEPTH, loads


@pytest.mark.parametrize(
    "text",
    [
        b'"\\ud800"',
        b'{"name": "a\\udc00"}',
        b'{"\\udbff": 1}',
        b'[["\\ud800"]]',
        b"[" * 100_000,
        b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
        b"NaN",
        b'{"size": Infinity}',
        b"-Infinity",
        b"\xff",
        b"\xef\xbb\xbf{}",
        '{"a": 1}'.encode("utf-16"),
        b"1" + b"0" * 5000,
        b"{",
    ],
)
def test_refused(text: bytes) -> None:
    with pytest.raises(InvalidParameter):
        loads(text)


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b'{"name": "\\ud83d\\ude00"}', {"name": "\U0001f600"}),  # a proper surrogate pair
        ('{"name": "\u00e9"}'.encode(), {"name": "\u00e9"}),
        (b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, _nested(MAX_DEPTH)),
        (b'{"size": 9223372036854775808}', {"size": 2**63}),  # range checks are the caller's
    ],
)
def test_accepted(text: bytes, value: object) -> None:
    assert loads(text) == value
