"""Workspaces API (PROTOCOL.md, base): list, create, rename, delete, the active workspace.

Retry safety per request:
1. GET, PATCH (rename) and POST active are idempotent: retried on every transient fault.
2. POST create is not: retried only when the request surely was not applied (refused
   connection, 429, 503); a reset after sending reaches the caller as ``ConnectionLost``.
3. DELETE is retried; a 404 after an attempt that may have landed counts as done.

``list`` is the first request of every session, so it also tells a wrong ``--server``
apart: a 404 or a redirect there means the URL is not the base URL of a syncd server
(``UsageError``, naming the URL to give), since every syncd server answers that route.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from syncd.errors import NotFound, ProtocolViolation, SyncdError, UsageError, WorkspaceNotFound
from syncd.protocol import routes
from syncd.transport.client import Connection
from syncd.transport.errors import parse_answer
from syncd.transport.models import Workspace, parse_workspace, parse_workspaces

WORKSPACES_URL = routes.WORKSPACES
ACTIVE_URL = routes.ACTIVE_WORKSPACE


class WorkspacesAPI:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def list(self) -> list[Workspace]:
        what = "GET workspaces"
        try:
            response = self._connection.request("GET", WORKSPACES_URL, what=what, context="other")
        except NotFound as exc:
            raise self._not_syncd(f"{WORKSPACES_URL} answered 404") from exc
        except ProtocolViolation as exc:
            if exc.status is None or not 300 <= exc.status < 400:
                raise
            hint = "syncd follows no redirects: give the URL it redirects to, without /api/v1"
            raise self._not_syncd(str(exc), hint) from exc
        assert response is not None
        return parse_answer(response, what, parse_workspaces)

    def _not_syncd(self, why: str, hint: str | None = None) -> UsageError:
        """A wrong ``--server``: say which URL to give instead."""
        base = self._connection.settings.base_url
        if hint is None:
            parts = urlsplit(base)
            hint = f"give the server's base URL, e.g. {parts.scheme}://{parts.netloc}"
            if parts.path.rstrip("/"):
                hint += f", without {parts.path.rstrip('/')!r}"
        return UsageError(f"{base} is not the base URL of a syncd server: {why}", hint=hint)

    def get(self, workspace_id: str) -> Workspace:
        what = f"GET workspace {workspace_id}"
        response = self._connection.request(
            "GET",
            routes.url(routes.WORKSPACE, workspace_id=workspace_id),
            what=what,
            context="workspace",
        )
        assert response is not None
        return parse_answer(response, what, parse_workspace)

    def resolve(self, id_or_name: str) -> Workspace:
        """The workspace with this id, else the one with this name (CLI.md ``--workspace``)."""
        workspaces = self.list()
        for workspace in workspaces:
            if workspace.id == id_or_name:
                return workspace
        named = [w for w in workspaces if w.name == id_or_name]
        if len(named) == 1:
            return named[0]
        if named:
            raise WorkspaceNotFound(
                f"{len(named)} workspaces are named {id_or_name!r}", hint="use the workspace id"
            )
        raise WorkspaceNotFound(f"no workspace with id or name {id_or_name!r}")

    def create(self, name: str | None = None) -> Workspace:
        what = "POST workspaces"
        response = self._connection.request(
            "POST",
            WORKSPACES_URL,
            what=what,
            context="other",
            json={} if name is None else {"name": name},
            idempotent=False,
        )
        assert response is not None
        return parse_answer(response, what, parse_workspace)

    def rename(self, workspace_id: str, name: str) -> Workspace:
        what = f"PATCH workspace {workspace_id}"
        response = self._connection.request(
            "PATCH",
            routes.url(routes.WORKSPACE, workspace_id=workspace_id),
            what=what,
            context="workspace",
            json={"name": name},
        )
        assert response is not None
        return parse_answer(response, what, parse_workspace)

    def delete(self, workspace_id: str) -> None:
        def gone(exc: SyncdError) -> bool:
            return isinstance(exc, WorkspaceNotFound)

        self._connection.request(
            "DELETE",
            routes.url(routes.WORKSPACE, workspace_id=workspace_id),
            what=f"DELETE workspace {workspace_id}",
            context="workspace",
            resolve=gone,
        )

    def active(self) -> Workspace | None:
        what = "GET active workspace"
        response = self._connection.request("GET", ACTIVE_URL, what=what, context="other")
        assert response is not None
        return parse_answer(response, what, _optional_workspace)

    def set_active(self, workspace_id: str | None) -> Workspace | None:
        what = "POST active workspace"
        response = self._connection.request(
            "POST", ACTIVE_URL, what=what, context="other", json={"workspace_id": workspace_id}
        )
        assert response is not None
        return parse_answer(response, what, _optional_workspace)


def _optional_workspace(data: object) -> Workspace | None:
    return None if data is None else parse_workspace(data)
