"""The OpenAPI 3.1 document of the server, built from the route tables it really serves.

1. Every path and method in the document is one the app routes, and no other: the
   document is derived from the same ``Routes`` tables, so it cannot drift.
2. On ``--base-only`` the extension routes and the E1 entry fields are absent.
3. ``/healthz`` and ``/metrics`` (syncd additions for operators) need no API key: their
   operations say ``security: []``.
"""

from __future__ import annotations

from typing import Any

from syncd import __version__
from syncd.protocol.records import MEDIA_TYPE
from syncd.server.routes.common import Routes

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or list(props)}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schemas(base_only: bool) -> dict[str, Any]:
    entry = {
        "path": {"type": "string"},
        "type": {"enum": ["file", "directory"]},
        "size": {"type": ["integer", "null"]},
        "modified_time": _NULLABLE_TIME,
    }
    if not base_only:
        entry["revision"] = {"type": "integer"}
        entry["hash"] = {
            "type": ["string", "null"],
            "description": "sha256:<hex>; null for a directory",
        }
    schemas: dict[str, Any] = {
        "ErrorResponse": _obj({"error": {"type": "string"}, "message": {"type": "string"}}),
        "AccountResponse": _obj(
            {
                "id": {"type": "string"},
                "tag": {"type": "string"},
                "create_time": _TIME,
                "last_active_day": {"type": ["string", "null"], "format": "date"},
                "total_active_days": {"type": "integer"},
            }
        ),
        "WorkspaceResponse": _obj(
            {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "size": {"type": "integer"},
                "create_time": _TIME,
                "modified_time": _TIME,
            }
        ),
        "WorkspacesResponse": _obj(
            {"workspaces": {"type": "array", "items": _ref("WorkspaceResponse")}}
        ),
        "WorkspaceEntryResponse": _obj(entry),
        "WorkspaceFilesResponse": _obj(
            {"entries": {"type": "array", "items": _ref("WorkspaceEntryResponse")}}
        ),
        "NameRequest": _obj({"name": {"type": "string"}}, []),
        "ActiveRequest": _obj({"workspace_id": {"type": ["string", "null"]}}),
        "FileOpRequest": _obj(
            {"op": {"enum": ["mkdir", "move", "copy"]}, "dest": {"type": "string"}}, ["op"]
        ),
        "Health": _obj({"status": {"const": "ok"}}),
    }
    if not base_only:
        deleted = _obj(
            {
                "path": {"type": "string"},
                "type": {"enum": ["file", "directory"]},
                "revision": {"type": "integer"},
            }
        )
        entries = {"type": "array", "items": _ref("WorkspaceEntryResponse")}
        schemas |= {
            "Capabilities": _obj(
                {
                    "changes": {"type": "boolean"},
                    "uploads": {"type": "boolean"},
                    "conditional": {"type": "boolean"},
                    "hashes": {"const": "sha256"},
                    "max_body": {"type": "integer"},
                    "batch": _obj(
                        {"max_items": {"type": "integer"}, "max_bytes": {"type": "integer"}}
                    ),
                }
            ),
            "ChangesResponse": _obj(
                {
                    "end_revision": {"type": "integer"},
                    "created": entries,
                    "updated": entries,
                    "deleted": {"type": "array", "items": deleted},
                    "has_more": {"type": "boolean"},
                }
            ),
            "UploadRequest": _obj(
                {
                    "path": {"type": "string"},
                    "size": {"type": "integer"},
                    "hash": {"type": "string"},
                },
                ["path", "size"],
            ),
            "UploadSession": _obj(
                {
                    "upload_id": {"type": "string"},
                    "offset": {"type": "integer"},
                    "chunk_size": {"type": "integer"},
                    "expires_time": _TIME,
                }
            ),
            "UploadOffset": _obj({"offset": {"type": "integer"}}),
            "UploadStatus": _obj({"offset": {"type": "integer"}, "size": {"type": "integer"}}),
            "CommitRequest": _obj({"if_revision": {"type": ["integer", "null"]}}, []),
            "BatchResponse": _obj(
                {
                    "revision": {"type": "integer"},
                    "results": {
                        "type": "array",
                        "items": _obj(
                            {
                                "path": {"type": "string"},
                                "status": {"type": "integer"},
                                "entry": _ref("WorkspaceEntryResponse"),
                                "error": {"type": "string"},
                                "message": {"type": "string"},
                            },
                            ["path", "status"],
                        ),
                    },
                }
            ),
            "BatchReadRequest": _obj(
                {"paths": {"type": "array", "items": {"type": "string"}, "minItems": 1}}
            ),
        }
    return schemas


# (method, path) -> (request body schema or "binary", response schema or "binary")
_BODIES: dict[tuple[str, str], tuple[str | None, str | None]] = {
    ("GET", "/api/v1/accounts/{account_id}"): (None, "AccountResponse"),
    ("GET", "/api/v1/accounts/by-tag/{tag}"): (None, "AccountResponse"),
    ("GET", "/api/v1/workspaces"): (None, "WorkspacesResponse"),
    ("POST", "/api/v1/workspaces"): ("NameRequest", "WorkspaceResponse"),
    ("GET", "/api/v1/workspaces/active"): (None, "WorkspaceResponse"),
    ("POST", "/api/v1/workspaces/active"): ("ActiveRequest", "WorkspaceResponse"),
    ("GET", "/api/v1/workspaces/{workspace_id}"): (None, "WorkspaceResponse"),
    ("PATCH", "/api/v1/workspaces/{workspace_id}"): ("NameRequest", "WorkspaceResponse"),
    ("GET", "/api/v1/workspaces/{workspace_id}/files"): (None, "WorkspaceFilesResponse"),
    ("GET", "/api/v1/workspaces/{workspace_id}/files/{file_path}"): (None, "binary"),
    ("PUT", "/api/v1/workspaces/{workspace_id}/files/{file_path}"): ("binary", None),
    ("POST", "/api/v1/workspaces/{workspace_id}/files/{file_path}"): ("FileOpRequest", None),
    ("GET", "/api/v1/capabilities"): (None, "Capabilities"),
    ("GET", "/api/v1/workspaces/{workspace_id}/changes"): (None, "ChangesResponse"),
    ("POST", "/api/v1/workspaces/{workspace_id}/uploads"): ("UploadRequest", "UploadSession"),
    ("PUT", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}"): ("binary", "UploadOffset"),
    ("GET", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}"): (None, "UploadStatus"),
    ("POST", "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}/commit"): (
        "CommitRequest",
        "WorkspaceEntryResponse",
    ),
    ("POST", "/api/v1/workspaces/{workspace_id}/batch"): ("records", "BatchResponse"),
    ("POST", "/api/v1/workspaces/{workspace_id}/batch-read"): ("BatchReadRequest", "records"),
    ("GET", "/healthz"): (None, "Health"),
    ("GET", "/metrics"): (None, "text"),
}

_QUERY = {
    "/api/v1/workspaces/{workspace_id}/changes": [
        ("from_revision", True, "cursor; 0 = every current entry"),
        ("limit", False, "1 to 10000, default 1000"),
        ("wait", False, "long poll: 0 to 60 seconds"),
    ],
    "/api/v1/workspaces/{workspace_id}/uploads/{upload_id}": [
        ("offset", False, "PUT: chunk offset")
    ],
}


# answers that PROTOCOL.md allows to be JSON null (no active workspace)
_NULLABLE = {("GET", "/api/v1/workspaces/active"), ("POST", "/api/v1/workspaces/active")}


def _content(schema: str, *, nullable: bool = False) -> dict[str, Any]:
    if schema == "binary":
        return {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    if schema == "text":  # the Prometheus exposition format
        return {"text/plain": {"schema": {"type": "string"}}}
    if schema == "records":  # the record stream of E5/E6
        return {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}
    if nullable:
        return {"application/json": {"schema": {"anyOf": [_ref(schema), {"type": "null"}]}}}
    return {"application/json": {"schema": _ref(schema)}}


def openapi_document(families: list[Routes], base_only: bool) -> dict[str, Any]:
    """The document for exactly these route tables (PROMISE 1)."""
    paths: dict[str, Any] = {}
    error = {"description": "error", "content": _content("ErrorResponse")}
    for family in families:
        for info in family.infos:
            path = info.path.replace("{file_path:anypath}", "{file_path}")
            request, response = _BODIES.get((info.method, path), (None, None))
            params = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _names(path)
            ]
            params += [
                {
                    "name": n,
                    "in": "query",
                    "required": req,
                    "description": d,
                    "schema": {"type": "integer"},
                }
                for n, req, d in _QUERY.get(path, [])
                if n != "offset" or info.method == "PUT"
            ]
            answer: dict[str, Any] = {"description": info.summary}
            if response and info.status_code != 204:
                answer["content"] = _content(response, nullable=(info.method, path) in _NULLABLE)
            operation: dict[str, Any] = {
                "tags": [family.tag],
                "summary": info.summary,
                "parameters": params,
                "responses": {str(info.status_code): answer, "default": error},
                "security": [] if family.public else [{"bearer": []}],
            }
            if request:
                operation["requestBody"] = {
                    "required": request in ("binary", "records"),
                    "content": _content(request),
                }
            paths.setdefault(path, {})[info.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "syncd reference server",
            "version": __version__,
            "description": "docs/PROTOCOL.md: the base API" + ("" if base_only else " and E1-E6"),
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(base_only),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]
