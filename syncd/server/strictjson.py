"""Strict JSON for what clients send: the one parser of request bodies (and backup manifests).

``json.loads`` accepts more than a body may carry, and some of it fails later, deep in the
server, as a 500: a lone surrogate (``"\\ud800"``) cannot be encoded for the database, and
deep nesting exhausts the stack. So, before anything else sees the value:

1. The text is strict UTF-8 (no UTF-16/32 guessing, no byte order mark).
2. ``NaN``, ``Infinity`` and ``-Infinity`` are refused: they are not JSON.
3. Nesting deeper than ``MAX_DEPTH`` is refused, however deep (the parser's own recursion
   limit is caught as well).
4. Every string, key or value, is valid Unicode without lone surrogates.

Every refusal is ``InvalidParameter`` (400 ``invalid_parameter``).
"""

from __future__ import annotations

import json
from typing import Any

from syncd.server.service.errors import InvalidParameter

MAX_DEPTH = 32  # the protocol's bodies are two levels deep


def _refuse_constant(name: str) -> Any:
    raise InvalidParameter(f"{name} is not a JSON value")


def loads(data: bytes | str) -> Any:
    """The value of a JSON text under PROMISES 1-4, or ``InvalidParameter``."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidParameter("the body is not valid UTF-8") from exc
    try:
        value = json.loads(data, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise InvalidParameter(f"the body is nested deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError, and integers past the digit limit
        raise InvalidParameter("the body is not valid JSON") from exc
    _check(value)
    return value


def _check(value: Any) -> None:
    """PROMISES 3 and 4 over the parsed value, without recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise InvalidParameter(f"the body is nested deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidParameter("the body holds a string that is not valid Unicode") from exc
