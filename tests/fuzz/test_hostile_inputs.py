"""Hostile inputs at every route of the real server: never a 5xx, never a traceback.

Schemathesis (``test_openapi.py``) generates values from the schema; these are the
values a schema does not suggest: lone surrogates, deep nesting, integers past 64 bits,
digits that are not ASCII (``²`` passes ``str.isdigit``), bytes that are not UTF-8. Each
one goes to every route the app serves, in the body, a header, the query or the path,
and the server's log must stay free of tracebacks and errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from syncd.server.routes import accounts, changes, files, uploads, workspaces
from syncd.soak.harness import ServerProcess

ROUTES = [
    (info.method, info.path)
    for family in (accounts, workspaces, files, changes, uploads)
    for info in family.router.infos
]

DEEP = 100_000
BODIES: list[bytes] = [
    b'{"name": "\\ud800"}',
    b'{"name": "a\\udfffb"}',
    b'{"\\ud800": 1}',
    b'["\\ud800"]',
    b"[" * DEEP,
    b'{"a":' * DEEP,
    b'{"name": [' + b"[" * 500 + b"]" * 500 + b"]}",
    b'{"path": "x", "size": 9223372036854775808}',
    b'{"path": "x", "size": 18446744073709551616}',
    b'{"path": "x", "size": 1' + b"0" * 5000 + b"}",
    b'{"path": "x", "size": 1e400}',
    b'{"path": "x", "size": NaN}',
    b'{"path": "x", "size": -Infinity}',
    b'{"path": "\\ud800", "size": 1}',
    b'{"if_revision": 9223372036854775808}',
    b'{"workspace_id": "\\ud800"}',
    b'{"op": "move", "dest": "\\ud800"}',
    b'{"op": "copy", "dest": "\\udc00/x"}',
    b'{"name": "\xff"}',
    b"\xef\xbb\xbf{}",
    '{"name": "x"}'.encode("utf-16"),
]
HEADERS: list[dict[str, bytes]] = [
    {"Range": b"bytes=\xb2-"},
    {"Range": b"bytes=0-\xb3"},
    {"Range": b"bytes=" + b"9" * 5000 + b"-"},
    {"Range": b"bytes=0-" + b"9" * 5000},
    {"Range": b"bytes=" + b"0" * 30 + b"1-"},
    {"If-Match": b'"\xb2"'},
    {"If-Match": b"\xb9"},
    {"If-Match": b'"' + b"9" * 5000 + b'"'},
    {"If-Match": b'"9223372036854775808"'},
    {"If-Match": b'W/"\xb3"'},
    {"If-None-Match": b"\xb2"},
    {"Content-Type": b"application/json; charset=\xff"},
    {"Authorization": b"Bearer \xb2\xff"},
]
NUMBERS = ["%C2%B2", "%D9%A3", "%EF%BC%91", "1_0", "+1", "%201", "1%20", "-0", "9" * 30]
NUMBERS += ["9" * 5000, "%ED%A0%80", "%FF", "0x10", "1e3", ""]
QUERIES = [
    f"{name}={value}" for name in ("from_revision", "limit", "wait", "offset") for value in NUMBERS
]
PATH_VALUES = ["%ED%A0%80", "%ED%B0%80", "%F0%9F", "%FF", "%C0%AF", "%00", "%EF%BF%BF"]
PATH_VALUES += ["a%2F..%2F..", "..", "x" * 5000]


@dataclass
class Target:
    """The real server, its workspace with a file and a folder, and one open upload."""

    server: ServerProcess
    key: str
    http: httpx.Client
    workspace: str = ""
    upload: str = ""
    log_start: int = 0

    def seed(self) -> None:
        """(Re)create what a destructive request may have removed."""
        if not self.workspace or self.http.get(self.ws_url).status_code == 404:
            self.workspace = self._new_workspace()
        assert self.http.put(f"{self.ws_url}/files/a.txt", content=b"hello").status_code == 204
        self.http.post(f"{self.ws_url}/files/d", json={"op": "mkdir"})
        begun = self.http.post(f"{self.ws_url}/uploads", json={"path": "up.bin", "size": 4})
        assert begun.status_code == 201, begun.text
        self.upload = begun.json()["upload_id"]

    def _new_workspace(self) -> str:
        made = self.http.post("/api/v1/workspaces", json={"name": "hostile"})
        assert made.status_code == 201, made.text
        return made.json()["id"]

    @property
    def ws_url(self) -> str:
        return f"/api/v1/workspaces/{self.workspace}"

    def url(self, template: str, **override: str) -> str:
        values = {
            "account_id": "me",
            "tag": "hostile",
            "workspace_id": self.workspace,
            "upload_id": self.upload,
            "file_path": "a.txt",
        }
        if template == "/api/v1/workspaces/{workspace_id}" and "workspace_id" not in override:
            values["workspace_id"] = self._new_workspace()  # it may be deleted
        values.update(override)
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], template)

    def send(self, method: str, url: str, **kwargs: object) -> None:
        headers = {"Authorization": f"Bearer {self.key}".encode(), **kwargs.pop("headers", {})}
        response = self.http.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        assert response.status_code < 500, (method, url, response.status_code, response.text)
        if response.status_code >= 400 and response.status_code != 416:
            body = response.json()
            assert body["error"] and isinstance(body["message"], str), body
        if method != "GET" and response.status_code < 300:
            self.seed()

    def server_faults(self) -> list[str]:
        lines = self.server.stderr_lines[self.log_start :]
        return [line for line in lines if "Traceback" in line or " ERROR " in line]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    data = Path(tmp_path_factory.mktemp("hostile")) / "server"
    with ServerProcess(data) as server:
        key = server.create_account("hostile")
        with httpx.Client(base_url=server.url, timeout=60) as http:
            http.headers["Authorization"] = f"Bearer {key}"
            found = Target(server=server, key=key, http=http)
            found.seed()
            found.log_start = len(server.stderr_lines)
            yield found


def _ids(routes: list[tuple[str, str]]) -> list[str]:
    return [f"{method} {path}" for method, path in routes]


@pytest.fixture
def clean_log(target: Target) -> Iterator[Target]:
    target.log_start = len(target.server.stderr_lines)
    yield target
    assert target.server_faults() == []


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=_ids(ROUTES))
def test_hostile_bodies(clean_log: Target, method: str, template: str) -> None:
    for body in BODIES:
        clean_log.send(method, clean_log.url(template), content=body)


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=_ids(ROUTES))
def test_hostile_headers(clean_log: Target, method: str, template: str) -> None:
    for headers in HEADERS:
        clean_log.send(method, clean_log.url(template), headers=headers, content=b"{}")


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=_ids(ROUTES))
def test_hostile_query_parameters(clean_log: Target, method: str, template: str) -> None:
    for query in QUERIES:
        clean_log.send(method, f"{clean_log.url(template)}?{query}", content=b"{}")


@pytest.mark.parametrize(("method", "template"), ROUTES, ids=_ids(ROUTES))
def test_hostile_path_parameters(clean_log: Target, method: str, template: str) -> None:
    names = re.findall(r"\{(\w+)", template)
    for name in names:
        for value in PATH_VALUES:
            url = clean_log.url(template, **{name: value})
            clean_log.send(method, url, content=b"{}")
