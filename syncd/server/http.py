"""HTTP plumbing shared by the route modules: errors, JSON, paths, bodies, conditions.

1. Every refusal is a ``ServerError`` (``service/errors.py``); ``error_response`` turns it
   into its status and the ``{"error", "message"}`` body of PROTOCOL.md (plus ``offset``
   for E3).
2. File paths come from the raw request target, percent-decoded exactly once as strict
   UTF-8, then the path rules of ``syncd.paths`` (so invalid UTF-8 is a 400, never U+FFFD).
3. Bodies are streamed to a temp file as they arrive and refused past ``max_body``; a body
   whose declared length is small is read into memory instead.
4. Numbers in headers and query parameters are ASCII digits only (``str.isdigit`` and
   ``int`` also take ``²``, ``٣``, ``1_0`` and spaces) and within the 64-bit range the
   database stores; anything else is invalid_parameter, never a 500.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.responses import Response

from syncd.protocol.errors import WireCode
from syncd.server import strictjson
from syncd.server.blobs import TempBlob
from syncd.server.entries import NO_CONDITION, Condition
from syncd.server.service.errors import InvalidParameter, ServerError, TooLarge, workspace_path

JSON = "application/json"
INT64_MAX = 2**63 - 1  # the largest integer the database stores: sizes, offsets, revisions
_INT64_DIGITS = len(str(INT64_MAX))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(data, status_code=status, media_type=JSON, headers=headers)


def error_body(status: int, code: str, message: str, **extra: Any) -> Response:
    return json_response({"error": code, "message": message, **extra}, status)


def error_response(exc: ServerError) -> Response:
    """The PROTOCOL.md answer for one refusal; a bare ``ServerError`` is 500 ``internal``."""
    if exc.code is WireCode.INTERNAL:
        return error_body(500, WireCode.INTERNAL, "internal server error")
    return error_body(exc.status, exc.code, str(exc), **exc.wire_extra())


def raw_file_path(request: Request, skip: int) -> str:
    """The NFC file path after the first ``skip`` segments of the raw request target."""
    raw: bytes = request.scope.get("raw_path") or request.scope["path"].encode("utf-8")
    parts = raw.split(b"/")
    # parts[0] is the empty string before the leading "/".
    encoded = b"/".join(parts[skip + 1 :])
    return workspace_path(unquote_to_bytes(encoded))


async def read_json(request: Request, limit: int = 1 << 20) -> dict[str, Any]:
    """A small JSON object body; an empty body is ``{}``; anything else is invalid_parameter."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge("the JSON body is too large")
    if not body.strip():
        return {}
    value = strictjson.loads(bytes(body))
    if not isinstance(value, dict):
        raise InvalidParameter("the body must be a JSON object")
    return value


def digits_value(text: str) -> int | None:
    """The value of a run of ASCII digits (leading zeros allowed); None for anything else.

    A run too long for 64 bits is ``INT64_MAX + 1``: past every size and revision, and
    never handed to ``int`` (which refuses more than 4300 digits with a ValueError).
    """
    if not text or not text.isascii() or not text.isdigit():
        return None
    significant = text.lstrip("0")
    if len(significant) > _INT64_DIGITS:
        return INT64_MAX + 1
    return int(significant or "0")


def parse_count(text: str, what: str, low: int = 0, high: int = INT64_MAX) -> int:
    """A decimal integer within [low, high] (PROMISE 4); else invalid_parameter."""
    number = digits_value(text)
    if number is None:
        raise InvalidParameter(f"{what} must be a non-negative integer of ASCII digits")
    if not low <= number <= high:
        raise InvalidParameter(f"{what} must be between {low} and {high}")
    return number


def declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    return parse_count(value.strip(), "Content-Length")


async def receive_small(request: Request, limit: int) -> bytes:
    """A body with a small declared length, in memory; ``TooLarge`` past ``limit``.

    The server's HTTP layer stops a body at its Content-Length, so this holds at most that.
    """
    length = declared_length(request)
    if length is not None and length > limit:
        raise TooLarge(f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    return bytes(body)


async def receive_body(request: Request, temp: TempBlob, limit: int) -> None:
    """Stream the body into ``temp``; ``TooLarge`` as soon as it passes ``limit``."""
    length = declared_length(request)
    if length is not None and length > limit:
        raise TooLarge(f"the body is larger than {limit} bytes")
    async for chunk in request.stream():
        if chunk:
            temp.write(chunk)
            if temp.size > limit:
                raise TooLarge(f"the body is larger than {limit} bytes")


def _revision_tag(value: str) -> int:
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if digits_value(text) is None:
        raise InvalidParameter(f"bad entity tag {value!r}: expected a revision")
    return parse_count(text, "the entity tag's revision")


def condition_from(request: Request, base_only: bool, allow_none_match: bool) -> Condition:
    """The E4 condition of a request (none on a base-only server, which ignores them)."""
    if base_only:
        return NO_CONDITION
    if_match = request.headers.get("if-match")
    if_none = request.headers.get("if-none-match")
    must_not_exist = False
    if if_none is not None and allow_none_match:
        if if_none.strip() != "*":
            raise InvalidParameter("If-None-Match supports only *")
        must_not_exist = True
    return Condition(
        if_match=_revision_tag(if_match) if if_match is not None else None,
        must_not_exist=must_not_exist,
    )


def int_query(request: Request, name: str, default: int | None, low: int, high: int) -> int:
    """An integer query parameter within [low, high]; else invalid_parameter."""
    value = request.query_params.get(name)
    if value is None:
        if default is None:
            raise InvalidParameter(f"{name} is required")
        return default
    return parse_count(value, name, low, high)
