"""Helpers of the batch tests: record streams built by hand, posted raw."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from syncd.protocol.records import MEDIA_TYPE


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


def put_record(path: str, data: bytes, **fields: Any) -> bytes:
    return line({"op": "put", "path": path, "size": len(data), **fields}) + data


def delete_record(path: str, **fields: Any) -> bytes:
    return line({"op": "delete", "path": path, **fields})


def mkdir_record(path: str) -> bytes:
    return line({"op": "mkdir", "path": path})


def post_batch(client: httpx.Client, ws: str, body: bytes, **headers: str) -> httpx.Response:
    return client.post(
        f"/api/v1/workspaces/{ws}/batch",
        content=body,
        headers={"Content-Type": MEDIA_TYPE, **headers},
        timeout=120,
    )


def batch(client: httpx.Client, ws: str, *records: bytes) -> dict:
    """Post a batch that must be accepted; its answer."""
    response = post_batch(client, ws, b"".join(records))
    assert response.status_code == 200, response.text
    return response.json()


def statuses(answer: dict) -> list[tuple[str, int, str | None]]:
    return [(r["path"], r["status"], r.get("error")) for r in answer["results"]]


def revision(client: httpx.Client, ws: str) -> int:
    response = client.get(f"/api/v1/workspaces/{ws}/changes", params={"from_revision": 0})
    assert response.status_code == 200, response.text
    return response.json()["end_revision"]
