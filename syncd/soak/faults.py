"""The fault model of the soak's proxy: what to inject, on which requests, and how often.

1. Faults are checked in the order added; the first that matches and fires applies.
2. Each armed fault draws from its own RNG seeded from (seed, the fault's number), so the
   same seed and the same requests give the same faults.
3. The caller's ``Fault`` is never mutated: its firing budget lives in ``Armed``.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from syncd.protocol.errors import STATUS, WireCode

ACTIONS = ("reset_request", "reset_response", "truncate", "status", "stall", "hook")
# The code each injected status carries: the protocol's own (409 as "conflict"), 405 as a
# bad parameter, any other 5xx "internal".
ERROR_CODES: dict[int, WireCode] = {
    status: code for code, status in STATUS.items() if code is not WireCode.OFFSET_MISMATCH
} | {405: WireCode.INVALID_PARAMETER}


@dataclass
class Fault:
    """One failure to inject, on requests that match ``method`` and the ``path`` regex.

    reset_request   pass on the head and at most ``after_bytes`` of the body, then RST
                    (a request without a body is not forwarded at all)
    reset_response  RST the client after ``after_bytes`` of the response body
    truncate        close cleanly (FIN) after ``after_bytes`` of the response body
    status          answer ``status`` with the PROTOCOL.md error body, optional Retry-After;
                    the request body is read first, so keep-alive survives
    stall           wait ``delay`` seconds (None: until the proxy stops) before forwarding,
                    or, with ``after_bytes`` > 0, after that much of the response body
    hook            call ``hook`` in a worker thread, then forward on a fresh upstream
                    connection (the hook may restart the server or call set_upstream)
    """

    action: str
    method: str | None = None
    path: str | None = None
    times: int | None = 1
    after_bytes: int = 0
    status: int | None = None
    retry_after: float | None = None
    delay: float | None = None
    probability: float = 1.0
    hook: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}")
        if self.action == "status" and self.status is None:
            raise ValueError("a status fault needs a status code")
        if self.action == "hook" and self.hook is None:
            raise ValueError("a hook fault needs a hook")


@dataclass
class LogEntry:
    """One request as the proxy saw it: ``status`` stays None when no response got out.
    ``headers`` (lower-case names) let a test see what was asked, e.g. a ``range``."""

    method: str
    target: str
    status: int | None
    fault: str | None
    headers: dict[str, str] = field(default_factory=dict, compare=False)


def error_body(status: int) -> bytes:
    """The PROTOCOL.md error body for an injected status."""
    fallback = WireCode.INTERNAL if status >= 500 else WireCode.INVALID_PARAMETER
    code = ERROR_CODES.get(status, fallback)
    return json.dumps({"error": code, "message": f"injected fault: HTTP {status}"}).encode()


def format_retry_after(seconds: float) -> str:
    """Whole seconds as an integer (RFC 9110); a fraction is kept so tests can stay fast."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def matches(method: str | None, path: str | None, entry_method: str, target: str) -> bool:
    if method is not None and method.upper() != entry_method:
        return False
    return path is None or re.search(path, target) is not None


class Armed:
    """A fault plus its own firing budget and RNG (the caller's Fault is never mutated)."""

    def __init__(self, fault: Fault, rng: random.Random) -> None:
        self.fault = fault
        self.remaining = fault.times
        self.rng = rng

    def fires(self, method: str, target: str) -> bool:
        fault = self.fault
        if self.remaining == 0 or not matches(fault.method, fault.path, method, target):
            return False
        if fault.probability < 1.0 and self.rng.random() >= fault.probability:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True
