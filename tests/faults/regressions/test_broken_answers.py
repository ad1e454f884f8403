"""Answers that are not the protocol end a run with one line and the right exit code.

Found by outside testing: JSON nested deeper than the decoder follows exited 1 with
``internal error: RecursionError``; a server that is not a syncd API at the given URL
exited 1 with ``GET workspaces: 404``. Now the first is a protocol error (exit 4) and the
second a usage error (exit 2) that says which URL to give.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from tests.faults.test_hostile_server import hostile, sync_against

__all__ = ["hostile"]

DEEP = "[" * 200_000 + "]" * 200_000


def _one_line(proc) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_json_nested_too_deeply_is_a_protocol_error(hostile, tmp_path):
    app, url = hostile
    app.answer = lambda request: (
        Response(DEEP, media_type="application/json")
        if request.url.path.endswith("/files")
        else None
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    proc = sync_against(url, folder, tmp_path / "state")
    assert proc.returncode == 4, (proc.returncode, proc.stderr)
    assert "nested too deeply" in _one_line(proc)


def test_deep_json_in_an_error_body_still_maps_by_status(hostile, tmp_path):
    app, url = hostile
    app.answer = lambda request: (
        Response(DEEP, status_code=401, media_type="application/json")
        if request.url.path == "/api/v1/workspaces"
        else None
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    proc = sync_against(url, folder, tmp_path / "state")
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert "401" in _one_line(proc)


def test_a_url_that_is_no_syncd_api_says_which_url_to_give(hostile, tmp_path):
    app, url = hostile
    app.answer = lambda request: (
        None
        if request.url.path.startswith("/api/")
        else JSONResponse({"detail": "Not Found"}, status_code=404)
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    proc = sync_against(f"{url}/sync", folder, tmp_path / "state")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    line = _one_line(proc)
    assert "not the base URL of a syncd server" in line and f"e.g. {url}" in line, line
    assert not (tmp_path / "state").exists()


def test_a_redirect_at_the_start_says_where_it_points(hostile, tmp_path):
    app, url = hostile
    app.answer = lambda request: Response(
        status_code=301, headers={"location": "https://elsewhere.example/api/v1/workspaces"}
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    proc = sync_against(url, folder, tmp_path / "state")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "https://elsewhere.example" in _one_line(proc)
