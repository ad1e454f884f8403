"""The URL paths of PROTOCOL.md: one template per resource, for server routing and client URLs.

1. A template names its parameters as the server's router does (``{workspace_id}``); the
   server adds only its own converters, the client fills them with ``url``.
2. ``url`` percent-encodes every parameter as one segment, except ``file_path``, whose
   ``/`` separators stay (each segment is encoded, and the server decodes it exactly once).
"""

from __future__ import annotations

from urllib.parse import quote

ACCOUNT = "/api/v1/accounts/{account_id}"
ACCOUNT_BY_TAG = "/api/v1/accounts/by-tag/{tag}"
WORKSPACES = "/api/v1/workspaces"
ACTIVE_WORKSPACE = "/api/v1/workspaces/active"
WORKSPACE = "/api/v1/workspaces/{workspace_id}"
FILES = WORKSPACE + "/files"
FILE = FILES + "/{file_path}"
FILE_PATH_AFTER = 5  # segments before the file path: api, v1, workspaces, <id>, files
CAPABILITIES = "/api/v1/capabilities"
CHANGES = WORKSPACE + "/changes"  # E2
UPLOADS = WORKSPACE + "/uploads"  # E3
UPLOAD = UPLOADS + "/{upload_id}"
UPLOAD_COMMIT = UPLOAD + "/commit"
BATCH = WORKSPACE + "/batch"  # E5
BATCH_READ = WORKSPACE + "/batch-read"  # E6


def url(template: str, **params: str) -> str:
    """The path of ``template`` with its parameters filled in and percent-encoded."""
    encoded = {
        name: quote(value, safe="/" if name == "file_path" else "")
        for name, value in params.items()
    }
    return template.format(**encoded)
