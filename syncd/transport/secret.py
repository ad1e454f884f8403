"""The API key: what a usable one looks like, and scrubbing it from every text syncd prints.

1. ``key_problem`` says why a key cannot go into an HTTP header (whitespace, control or
   non-ASCII characters, empty), without quoting the key; config and transport refuse such
   a key before any request is built.
2. ``redact`` removes the key in every spelling the transport or a library can print: as
   is, as ``repr`` of str or bytes (``b'...'``, ``\\n`` escapes, escaped again inside a
   repr of a repr), JSON-escaped, percent-encoded (either hex case), and any fragment of
   ``MIN_FRAGMENT`` or more characters of these (a message cut short, a key split in two).
3. ``remember`` registers a key for the whole process; ``RedactFilter`` scrubs every
   registered key from each log record, so no log line carries it whatever code logged.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from functools import lru_cache
from urllib.parse import quote, quote_plus

MIN_FRAGMENT = 8  # a shorter run of a key's characters is not treated as a leak
MASK = "***"

_lock = threading.Lock()
_known: set[str] = set()


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be used as an API key, or None; the key itself is never quoted."""
    if not key:
        return "it is empty"
    for ch in key:
        if ch.isspace():
            return "it contains whitespace (a line break or a space)"
        if ord(ch) < 0x20 or ord(ch) == 0x7F:
            return "it contains a control character"
        if ord(ch) > 0x7E:
            return "it contains a non-ASCII character"
    return None


def _escaped(text: str) -> set[str]:
    """``text`` as reprs and JSON strings print it, once and nested once more."""
    out = {text}
    for _ in range(2):
        more = set()
        for item in out:
            more.add(repr(item)[1:-1])
            more.add(json.dumps(item)[1:-1])
            more.add(json.dumps(item, ensure_ascii=False)[1:-1])
            raw = item.encode("utf-8", "backslashreplace")
            more.add(repr(raw)[2:-1])
        out |= more
    return out


@lru_cache(maxsize=32)
def spellings(secret: str) -> tuple[str, ...]:
    """Every spelling of ``secret`` that ``redact`` looks for, longest first."""
    found: set[str] = set()
    for form in _escaped(secret):
        found.add(form)
        for encoded in (quote(form, safe=""), quote_plus(form)):
            found.add(encoded)
            found.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded))
    for line in secret.splitlines():  # a key with a line break, printed line by line
        if len(line.strip()) >= MIN_FRAGMENT:
            found.add(line.strip())
    found.discard("")
    return tuple(sorted(found, key=len, reverse=True))


@lru_cache(maxsize=32)
def _matcher(secrets: frozenset[str]) -> tuple[re.Pattern[str], frozenset[str]]:
    """One pattern for every spelling of the keys, and the MIN_FRAGMENT-grams of them."""
    forms = sorted({f for key in secrets for f in spellings(key)}, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(f) for f in forms))
    grams = frozenset(
        f[i : i + MIN_FRAGMENT] for f in forms for i in range(len(f) - MIN_FRAGMENT + 1)
    )
    return pattern, grams


@lru_cache(maxsize=32)
def _any_gram(grams: frozenset[str]) -> re.Pattern[str]:
    """A pattern that finds whether ``text`` holds any of ``grams`` at all."""
    return re.compile("|".join(re.escape(g) for g in sorted(grams)))


def _fragments(text: str, grams: frozenset[str]) -> str:
    """``text`` with every run of MIN_FRAGMENT-grams of a spelling masked (a partial key).

    One search first: nearly every log line holds no gram, and the walk below, one slice
    a character, cost more than the rest of logging that line."""
    if _any_gram(grams).search(text) is None:
        return text
    spans: list[list[int]] = []
    for i in range(len(text) - MIN_FRAGMENT + 1):
        if text[i : i + MIN_FRAGMENT] in grams:
            if spans and spans[-1][1] >= i:
                spans[-1][1] = i + MIN_FRAGMENT
            else:
                spans.append([i, i + MIN_FRAGMENT])
    for start, end in reversed(spans):
        text = text[:start] + MASK + text[end:]
    return text


def redact(text: str, secret: str | None = None) -> str:
    """``text`` without ``secret`` (and without every key ``remember`` was given)."""
    secrets = set(_remembered())
    if secret:
        secrets.add(secret)
    if not secrets or not text:
        return text
    pattern, grams = _matcher(frozenset(secrets))
    text = pattern.sub(MASK, text)
    return _fragments(text, grams) if grams else text


def remember(secret: str | None) -> None:
    """Scrub ``secret`` from every later ``redact`` and log record of this process."""
    if secret:
        with _lock:
            _known.add(secret)


def _remembered() -> tuple[str, ...]:
    with _lock:
        return tuple(_known)


class RedactFilter(logging.Filter):
    """A handler filter: the record's message, with every remembered key scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _remembered():
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: the handler reports it
            return True
        cleaned = redact(message)
        if record.exc_info and record.exc_text is None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True
