"""``/healthz`` and ``/metrics``: for load balancers and Prometheus, not for sync clients.

HTTP only and no API key: the checks are ``server/health.py``, the figures
``server/metrics.py``. Neither answer holds account data.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from syncd.protocol.errors import WireCode
from syncd.server.http import error_body, json_response
from syncd.server.routes.common import Routes, context

HEALTHZ = "/healthz"
METRICS = "/metrics"

health_router = Routes("operations", public=True)
metrics_router = Routes("operations", public=True)


@health_router.get(HEALTHZ, summary="200 while the database answers, else 503")
async def healthz(request: Request) -> Response:
    health = await context(request).health.check()
    if not health.ok:
        return error_body(503, WireCode.UNAVAILABLE, health.problem)
    return json_response({"status": "ok"}, headers={"Cache-Control": "no-store"})


@metrics_router.get(METRICS, summary="Prometheus metrics of this process")
async def metrics(request: Request) -> Response:
    body, content_type = context(request).metrics.render(request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})
