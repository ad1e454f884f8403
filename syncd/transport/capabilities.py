"""Capability detection: ask ``GET /api/v1/capabilities`` once per Client (PROTOCOL.md).

1. 404 (with a valid key) means base API only: ``Capabilities.base_only()``.
2. Any other failure (401, unreachable) is raised and not cached, so a later call asks again.
3. Thread-safe: the first caller asks, the others wait for its answer.
"""

from __future__ import annotations

import threading

from syncd.errors import NotFound
from syncd.protocol import routes
from syncd.transport.client import Connection
from syncd.transport.errors import parse_answer
from syncd.transport.models import Capabilities, parse_capabilities

CAPABILITIES_URL = routes.CAPABILITIES


class CapabilitiesAPI:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._value: Capabilities | None = None

    def get(self) -> Capabilities:
        with self._lock:
            if self._value is None:
                self._value = self._fetch()
            return self._value

    def _fetch(self) -> Capabilities:
        what = "GET capabilities"
        try:
            response = self._connection.request("GET", CAPABILITIES_URL, what=what, context="other")
        except NotFound:
            return Capabilities.base_only()
        assert response is not None
        return parse_answer(response, what, parse_capabilities)
