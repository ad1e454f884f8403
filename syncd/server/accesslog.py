"""The outermost middleware: one access line and the request metrics per request.

1. One ``key=value`` line per request on the ``syncd.server.access`` logger, as the
   daemon logs: ``method route status bytes bytes_in duration_ms request_id client`` (bytes
   sent, bytes of the request body received), plus the
   workspace id and the integer query parameters (``from_revision limit wait offset``)
   when the request has them.
2. The route is the template the request matched (``/api/v1/workspaces/{workspace_id}/
   files/{file_path}``), never the raw path: no file name reaches the log. Headers are
   never logged and no other query parameter is, so an API key cannot appear in it.
   Values that come from the client are logged only when they match a strict pattern,
   so no client can forge a second line or a field.
3. The request id is the client's ``X-Request-ID`` when it is a short token (a proxy in
   front sets one), else a new one; the answer carries it back in ``X-Request-ID``.
4. A request that raised before anything was sent gets the JSON 500 of the error
   contract. One cut at the end of a drain (uvicorn cancels what outlived
   ``--drain-timeout``) gets 503 ``unavailable`` with ``Retry-After``, so its client
   retries on another process or after the restart, rather than a bare-text 500.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.protocol.errors import WireCode
from syncd.server.http import error_body
from syncd.server.metrics import ServerMetrics

access_log = logging.getLogger("syncd.server.access")
log = logging.getLogger("syncd.server")

UNMATCHED = "unmatched"  # the route label of a request no route matched (a 404)
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_INT = re.compile(r"[0-9]{1,20}")
_LOGGED_QUERY = ("from_revision", "limit", "wait", "offset")  # integers; never a secret
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def method_name(scope: Scope) -> str:
    """The request method, or ``OTHER`` (any token is a valid method; labels stay few)."""
    method = scope["method"]
    return method if method in _METHODS else "OTHER"


def route_template(scope: Scope) -> str:
    """The path template of the route that matched, with its converters dropped."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            token = value.decode("latin-1")
            if _TOKEN.fullmatch(token):
                return token
            break
    return secrets.token_hex(8)


def _extra_fields(scope: Scope) -> str:
    """The workspace id and integer query parameters, each only when well-formed."""
    fields = []
    workspace = (scope.get("path_params") or {}).get("workspace_id")
    if isinstance(workspace, str) and _ID.fullmatch(workspace):
        fields.append(f"workspace={workspace}")
    query = scope.get("query_string", b"").decode("latin-1")
    for pair in query.split("&") if query else ():
        name, _, value = pair.partition("=")
        if name in _LOGGED_QUERY and _INT.fullmatch(value):
            fields.append(f"{name}={value}")
    return "".join(" " + field for field in fields)


class AccessLog:
    """Access line, request metrics and the last-resort JSON 500 (PROMISES 1 to 4)."""

    def __init__(
        self, app: ASGIApp, metrics: ServerMetrics | None = None, enabled: bool = True
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        header = (b"x-request-id", rid.encode())
        state: dict[str, Any] = {"status": 0, "bytes": 0, "bytes_in": 0}

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["bytes_in"] += len(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            elif message["type"] == "http.response.body":
                state["bytes"] += len(message.get("body", b""))
            await send(message)

        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            await self.app(scope, receiving, sending)
        except asyncio.CancelledError:
            # Only the drain cancels a request: answer for it and end the task normally.
            if not state["status"]:
                cut = error_body(503, WireCode.UNAVAILABLE, "the server is shutting down")
                cut.headers["Retry-After"] = "1"
                cut.headers["Connection"] = "close"
                await cut(scope, receive, sending)
        except Exception as exc:
            if not state["status"]:
                log.error("unexpected %s: %s", type(exc).__name__, exc, exc_info=exc)
                await error_body(500, WireCode.INTERNAL, "internal server error")(
                    scope, receive, sending
                )
        finally:
            seconds = time.perf_counter() - started
            method, route = method_name(scope), route_template(scope)
            if self.metrics is not None:
                self.metrics.in_flight.dec()
                self.metrics.observe_request(method, route, state["status"], seconds)
            if self.enabled and access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "method=%s route=%s status=%d bytes=%d bytes_in=%d duration_ms=%.1f "
                    "request_id=%s client=%s%s",
                    method,
                    route,
                    state["status"],
                    state["bytes"],
                    state["bytes_in"],
                    seconds * 1000,
                    rid,
                    (scope.get("client") or ("-",))[0],
                    _extra_fields(scope),
                )
