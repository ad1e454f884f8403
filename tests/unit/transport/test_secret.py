"""The API key: which keys can be sent, and every spelling of one that redaction removes."""

from __future__ import annotations

import json
import logging
import re
import sys
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.transport.secret import MASK, RedactFilter, key_problem, redact, remember

KEY = "bF2-iX6gzPuM8SCJi-mb1ULvRarqW3gL3hr9X1savf0"  # as `syncd admin` makes them
ODD = "sk-\\q'u\"o%2Ft+e/s=~Kx7Qm2Vr9Lp4"  # printable ASCII that every encoder escapes


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        (KEY, None),
        (ODD, None),
        ("", "empty"),
        (KEY + "\nsecond line", "whitespace"),
        (KEY + " ", "whitespace"),
        ("\t" + KEY, "whitespace"),
        (KEY + "\x07", "control"),
        (KEY + "\x7f", "control"),
        ("é" + KEY, "non-ASCII"),
        (KEY + "\u200b", "non-ASCII"),
    ],
)
def test_which_keys_can_be_sent(key: str, problem: str | None) -> None:
    found = key_problem(key)
    assert (found is None) if problem is None else (problem in str(found))
    assert found is None or (key.strip() or "x") not in found


def _spellings(key: str) -> list[str]:
    bearer = f"Bearer {key}"
    return [
        key,
        f"Illegal header value {bearer.encode()!r}",
        repr(repr(key)),
        repr(repr(bearer.encode())),
        json.dumps(key),
        json.dumps(json.dumps(key)),
        quote(key, safe=""),
        re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(key, safe="")),
        quote_plus(key),
        f"{bearer[:30]}",  # a message cut short
        f"...{key[12:]}",  # the tail of one
    ]


@pytest.mark.parametrize("key", [KEY, ODD, KEY + "\nsecond line", "é" + KEY])
@pytest.mark.parametrize("index", range(11))
def test_no_spelling_survives(key: str, index: int) -> None:
    text = f"before {_spellings(key)[index]} after"
    cleaned = redact(text, key)
    assert MASK in cleaned and cleaned.startswith("before ") and cleaned.endswith(" after")
    for i in range(len(key) - 8 + 1):
        assert key[i : i + 8] not in cleaned, (key[i : i + 8], cleaned)


def test_text_without_the_key_is_left_as_it_is() -> None:
    text = "GET files of w-1: 503 unavailable: try again at 10:00 (see /api/v1/changes)"
    assert redact(text, KEY) == text
    assert redact(text, None) == text


def test_a_remembered_key_is_scrubbed_from_log_records() -> None:
    key = "sk-remembered-0123456789abcdef"
    remember(key)
    record = logging.LogRecord("syncd", logging.INFO, __file__, 1, "error=%s", (key,), None)
    assert RedactFilter().filter(record)
    assert record.getMessage() == f"error={MASK}"
    assert key not in redact(f"x {key!r} y")
    try:
        raise ValueError(f"with {key}")
    except ValueError:
        failed = logging.LogRecord(
            "syncd", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    RedactFilter().filter(failed)
    assert key not in logging.Formatter().format(failed)


@given(
    st.lists(
        st.tuples(st.integers(0, len(KEY)), st.integers(0, len(KEY))).map(
            lambda ends: KEY[min(ends) : max(ends)]
        )
        | st.text(alphabet="ab/=_-. %x", max_size=12),
        max_size=6,
    ).map("".join)
)
def test_no_run_of_key_characters_survives_in_any_text(text: str) -> None:
    cleaned = redact(text, KEY)
    assert not any(KEY[i : i + 8] in cleaned for i in range(len(KEY) - 8 + 1)), cleaned
    if not any(KEY[i : i + 8] in text for i in range(len(KEY) - 8 + 1)):
        assert cleaned == text  # a text with no fragment is left as it is
