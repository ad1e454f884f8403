"""Pieces every route module uses: the route table, the context, entry JSON.

``Routes`` is a small decorator-based table over Starlette's ``Route``: each handler gets
the request and its path parameters as keyword arguments, and its summary feeds the
OpenAPI document (``syncd.server.openapi``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import Row
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.server.context import ServerContext

Handler = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    summary: str
    status_code: int


@dataclass
class Routes:
    """The routes of one API family, in registration order (first match wins)."""

    tag: str
    public: bool = False  # True: served without an API key (health checks, metrics)
    infos: list[RouteInfo] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)

    def add(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        status_code: int = 200,
    ) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            async def endpoint(req: Request) -> Response:
                return await fn(req, **req.path_params)

            endpoint.__name__ = fn.__name__
            self.routes.append(Route(path, endpoint, methods=[method]))
            self.infos.append(RouteInfo(method, path, summary, status_code))
            return fn

        return decorate

    def get(self, path: str, **kw: object) -> Callable[[Handler], Handler]:
        return self.add("GET", path, **kw)  # type: ignore[arg-type]

    def post(self, path: str, **kw: object) -> Callable[[Handler], Handler]:
        return self.add("POST", path, **kw)  # type: ignore[arg-type]

    def put(self, path: str, **kw: object) -> Callable[[Handler], Handler]:
        return self.add("PUT", path, **kw)  # type: ignore[arg-type]

    def patch(self, path: str, **kw: object) -> Callable[[Handler], Handler]:
        return self.add("PATCH", path, **kw)  # type: ignore[arg-type]

    def delete(self, path: str, **kw: object) -> Callable[[Handler], Handler]:
        return self.add("DELETE", path, **kw)  # type: ignore[arg-type]


def context(request: Request) -> ServerContext:
    return request.app.state.ctx


def entry_json(row: Row, base_only: bool) -> dict[str, object]:
    """``WorkspaceEntryResponse``; with E1 also ``revision`` and ``hash`` (null for a directory)."""
    is_file = row.type == "file"
    body: dict[str, object] = {
        "path": row.path,
        "type": row.type,
        "size": row.size if is_file else None,
        "modified_time": row.modified_time,
    }
    if not base_only:
        body["revision"] = row.revision
        body["hash"] = f"sha256:{row.hash}" if is_file else None
    return body
