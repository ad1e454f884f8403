"""The ASGI application: routes, the error contract, the access log.

1. Every non-2xx answer has the body ``{"error", "message"}``: the server's refusals
   (``service/errors.py``, mapped here and nowhere else),
   unknown routes (404), wrong methods (405), bad parameters and unexpected exceptions (500).
   Only a server fault logs a traceback: a client that goes away inside its body is a 400
   in the access log (the answer reaches no one), not a 500.
2. ``--base-only`` leaves the extension routes out, so they answer 404 like any unknown path.
3. The access log is one line per request on stderr: method, raw path, status, bytes, time.
   Headers are never logged, so an API key cannot appear in it.
4. The OpenAPI document is served at ``/openapi.json`` (no key needed: it holds no data).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncd.protocol.errors import WireCode
from syncd.server.context import ServerContext
from syncd.server.http import error_body, error_response, json_response
from syncd.server.openapi import openapi_document
from syncd.server.routes import accounts, batch, changes, files, uploads, workspaces
from syncd.server.service.errors import ServerError

access_log = logging.getLogger("syncd.server.access")
log = logging.getLogger("syncd.server")

_HTTP_CODES = {
    401: WireCode.UNAUTHORIZED,
    404: WireCode.NOT_FOUND,
    405: WireCode.INVALID_PARAMETER,
    413: WireCode.TOO_LARGE,
}


async def _server_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServerError)
    return error_response(exc)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, WireCode.INVALID_PARAMETER)
    if exc.status_code >= 500:
        code = WireCode.INTERNAL
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 405:
        message = "method not allowed"
    response = error_body(exc.status_code, code, message)
    if exc.headers and "Allow" in exc.headers:  # RFC 9110: a 405 names what is allowed
        response.headers["Allow"] = exc.headers["Allow"]
    return response


async def _client_gone(_request: Request, _exc: Exception) -> Response:
    return error_body(400, WireCode.INVALID_PARAMETER, "the client disconnected inside its body")


async def _unexpected(_request: Request, exc: Exception) -> Response:
    log.error("unexpected %s: %s", type(exc).__name__, exc, exc_info=exc)
    return error_body(500, WireCode.INTERNAL, "internal server error")


class AccessLog:
    """Outermost middleware: the access line, and a JSON 500 if nothing was sent yet."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 0, "bytes": 0}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if not state["status"]:
                log.error("unexpected %s: %s", type(exc).__name__, exc, exc_info=exc)
                await error_body(500, WireCode.INTERNAL, "internal server error")(
                    scope, receive, sending
                )
        finally:
            if access_log.isEnabledFor(logging.INFO):
                raw = scope.get("raw_path") or scope["path"].encode()
                target = raw.decode("latin-1")
                if scope.get("query_string"):
                    target += "?" + scope["query_string"].decode("latin-1")
                access_log.info(
                    '%s %s "%s" %d %d %.1fms',
                    (scope.get("client") or ("-",))[0],
                    scope["method"],
                    target,
                    state["status"],
                    state["bytes"],
                    (time.perf_counter() - started) * 1000,
                )


async def _housekeeping(ctx: ServerContext) -> None:
    """Expire upload sessions and collect blobs on a timer (never on the request path)."""
    interval = max(0.5, min(60.0, ctx.settings.upload_ttl / 2))
    while True:
        await asyncio.sleep(interval)
        try:
            await ctx.run(ctx.housekeeping)
        except Exception as exc:  # keep serving; the next round tries again
            log.warning("housekeeping failed: %s", exc)


def create_app(ctx: ServerContext) -> ASGIApp:
    """The server's ASGI app over one context (database, blob store, settings)."""

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await ctx.run(ctx.startup)
        ctx.listen(asyncio.get_running_loop())
        task = asyncio.create_task(_housekeeping(ctx))
        try:
            yield
        finally:
            task.cancel()
            await ctx.settle()

    families = [accounts.router, workspaces.router, files.router]
    if not ctx.base_only:
        families += [changes.router, uploads.router, batch.router]
    document = openapi_document(families, ctx.base_only)

    async def openapi(_request: Request) -> Response:
        return json_response(document)

    routes = [route for family in families for route in family.routes]
    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ServerError: _server_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            Exception: _unexpected,
        },
    )
    app.router.redirect_slashes = False
    app.state.ctx = ctx
    return AccessLog(app)
