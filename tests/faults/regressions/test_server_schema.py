"""Findings of the schemathesis run against the reference server (tests/fuzz).

1. PROTOCOL.md: ``GET/POST /api/v1/workspaces/active`` answer "WorkspaceResponse or
   null", but syncd/server/openapi.py (lines 130-131) declares ``WorkspaceResponse``
   only, so the server's own ``null`` answer violates its schema.
2. A 405 answer carries no ``Allow`` header (RFC 9110 requires one).
"""

from __future__ import annotations

import schemathesis
from schemathesis import checks


def test_no_active_workspace_matches_the_schema(server):
    key = server.create_account("schema")
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operation = schema["/api/v1/workspaces/active"]["GET"]
    case = operation.Case()
    response = case.call(headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200 and response.json() is None
    case.validate_response(response, checks=[checks.response_schema_conformance])


def test_wrong_method_answer_names_the_allowed_methods(server):
    key = server.create_account("allow")
    with server.client(key) as http:
        answer = http.request("TRACE", "/api/v1/workspaces")
    assert answer.status_code == 405
    assert answer.json()["error"] == "invalid_parameter"
    assert "GET" in answer.headers.get("allow", "")
