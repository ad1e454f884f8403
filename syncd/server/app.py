"""The ASGI application: routes, the error contract, the access log.

1. Every non-2xx answer has the body ``{"error", "message"}``: the server's refusals
   (``service/errors.py``, mapped here and nowhere else),
   unknown routes (404), wrong methods (405), bad parameters and unexpected exceptions (500).
   Only a server fault logs a traceback: a client that goes away inside its body is a 400
   in the access log (the answer reaches no one), not a 500.
2. ``--base-only`` leaves the extension routes out, so they answer 404 like any unknown path.
3. The access log is one ``key=value`` line per request on stderr, by route template,
   never raw path, header or secret (``server/accesslog.py``, which also counts the
   request for ``/metrics``); ``--no-access-log`` silences it.
4. The OpenAPI document is served at ``/openapi.json`` (no key needed: it holds no data),
   and so are ``/healthz`` and, unless ``--no-metrics``, ``/metrics`` (``routes/operations.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from syncd.protocol.errors import WireCode
from syncd.server.accesslog import AccessLog
from syncd.server.context import ServerContext
from syncd.server.http import error_body, error_response, json_response
from syncd.server.openapi import openapi_document
from syncd.server.routes import (
    accounts,
    batch,
    changes,
    files,
    operations,
    uploads,
    workspaces,
)
from syncd.server.service.errors import ServerError

__all__ = ["AccessLog", "create_app"]

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
    families.append(operations.health_router)
    if ctx.settings.metrics:
        families.append(operations.metrics_router)
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
    return AccessLog(app, ctx.metrics, enabled=ctx.settings.access_log)
