"""The wire error codes of PROTOCOL.md (General): the ``error`` string of every non-2xx body.

1. ``WireCode`` holds every code the protocol defines, spelled as on the wire; a server
   sends only these, and a client compares against these, never against a literal.
2. ``STATUS`` gives the status each code is sent with (``conflict`` and
   ``offset_mismatch`` share 409; ``internal`` also stands for 502 and 504).
"""

from __future__ import annotations

from enum import StrEnum


class WireCode(StrEnum):
    INVALID_PARAMETER = "invalid_parameter"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    OFFSET_MISMATCH = "offset_mismatch"
    REVISION_OBSOLETED = "revision_obsoleted"
    PRECONDITION_FAILED = "precondition_failed"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    INTERNAL = "internal"
    UNAVAILABLE = "unavailable"


STATUS: dict[WireCode, int] = {
    WireCode.INVALID_PARAMETER: 400,
    WireCode.UNAUTHORIZED: 401,
    WireCode.NOT_FOUND: 404,
    WireCode.CONFLICT: 409,
    WireCode.OFFSET_MISMATCH: 409,
    WireCode.REVISION_OBSOLETED: 410,
    WireCode.PRECONDITION_FAILED: 412,
    WireCode.TOO_LARGE: 413,
    WireCode.RATE_LIMITED: 429,
    WireCode.INTERNAL: 500,
    WireCode.UNAVAILABLE: 503,
}
