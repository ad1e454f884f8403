"""Every retry rule of PROTOCOL.md, shown through the fault proxy in front of a real server."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from syncd import errors
from syncd.soak.proxy import Fault, FaultProxy
from tests.integration.transport.conftest import Live
from tests.integration.transport.helpers import MiB, file_hash, make_file, record_headers

LIST = r"/files$"


def listing_requests(proxy: FaultProxy) -> int:
    return proxy.count("GET", LIST)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_faults_are_retried(
    full: Live, proxy: FaultProxy, workspace: str, status: int
) -> None:
    proxy.add(Fault("status", method="GET", path=LIST, status=status, times=2))
    with full.client(url=proxy.url) as client:
        assert list(client.files.list(workspace)) == []
    assert listing_requests(proxy) == 3


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_waited(full: Live, proxy: FaultProxy, workspace: str, status: int) -> None:
    proxy.add(Fault("status", method="GET", path=LIST, status=status, retry_after=0.4))
    with full.client(url=proxy.url, backoff_initial=0.001, backoff_max=0.001) as client:
        start = time.monotonic()
        client.files.list(workspace)
        assert time.monotonic() - start >= 0.4
    assert listing_requests(proxy) == 2


def test_retry_after_past_the_deadline_gives_up_at_once(
    full: Live, proxy: FaultProxy, workspace: str
) -> None:
    proxy.add(Fault("status", method="GET", path=LIST, status=429, retry_after=120))
    with full.client(url=proxy.url, deadline=5.0) as client:
        start = time.monotonic()
        with pytest.raises(errors.ServerUnreachable):
            client.files.list(workspace)
        assert time.monotonic() - start < 2
    assert listing_requests(proxy) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, errors.InvalidParameter),
        (401, errors.Unauthorized),
        (404, errors.WorkspaceNotFound),
        (409, errors.PathConflict),
        (410, errors.FeedReset),
        (412, errors.PreconditionFailed),
        (413, errors.TooLarge),
    ],
)
def test_permanent_errors_are_not_retried(
    full: Live, proxy: FaultProxy, workspace: str, status: int, error: type
) -> None:
    proxy.add(Fault("status", method="GET", path=LIST, status=status, times=None))
    with full.client(url=proxy.url) as client, pytest.raises(error):
        client.files.list(workspace)
    assert listing_requests(proxy) == 1


def test_retries_run_out_into_server_unreachable(
    full: Live, proxy: FaultProxy, workspace: str
) -> None:
    proxy.add(Fault("status", method="GET", path=LIST, status=500, times=None))
    with (
        full.client(url=proxy.url, max_retries=3) as client,
        pytest.raises(errors.ServerUnreachable) as info,
    ):
        client.files.list(workspace)
    assert info.value.exit_code == 4 and full.key not in str(info.value)
    assert listing_requests(proxy) == 4


def test_deadline_bounds_the_whole_call(full: Live, proxy: FaultProxy, workspace: str) -> None:
    proxy.add(Fault("status", method="GET", path=LIST, status=503, retry_after=0.3, times=None))
    with full.client(url=proxy.url, max_retries=100, deadline=1.0) as client:
        start = time.monotonic()
        with pytest.raises(errors.ServerUnreachable):
            client.files.list(workspace)
        assert time.monotonic() - start < 1.5
    assert 2 <= listing_requests(proxy) <= 4


@pytest.mark.parametrize("action", ["reset_response", "truncate"])
def test_broken_answers_are_retried(
    full: Live, proxy: FaultProxy, workspace: str, action: str
) -> None:
    proxy.add(Fault(action, method="GET", path=LIST, after_bytes=5))
    with full.client(url=proxy.url) as client:
        client.files.list(workspace)
    assert listing_requests(proxy) == 2


def test_stall_past_the_timeout_is_retried(full: Live, proxy: FaultProxy, workspace: str) -> None:
    proxy.add(Fault("stall", method="GET", path=LIST, delay=2.0))
    with full.client(url=proxy.url, timeout=0.5) as client:
        start = time.monotonic()
        client.files.list(workspace)
        assert time.monotonic() - start < 2.0
    assert listing_requests(proxy) == 2


def test_reset_mid_upload_is_retried(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    digest = make_file(tmp_path / "p", 300_000)
    proxy.add(Fault("reset_request", method="PUT", path="/files/p$", after_bytes=100_000))
    with full.client(url=proxy.url) as client:
        assert client.files.upload(workspace, "p", tmp_path / "p").hash == digest
        assert client.files.entry(workspace, "p").hash == digest  # type: ignore[union-attr]
    assert proxy.count("PUT", "/files/p$") == 2


def test_workspace_create_is_not_retried_after_it_may_have_landed(
    full: Live, proxy: FaultProxy
) -> None:
    proxy.add(Fault("reset_response", method="POST", path=r"/workspaces$"))
    with full.client(url=proxy.url) as client, pytest.raises(errors.ConnectionLost):
        client.workspaces.create("once")
    assert proxy.count("POST", r"/workspaces$") == 1


def test_workspace_create_is_retried_when_surely_unsent(full: Live, proxy: FaultProxy) -> None:
    proxy.add(Fault("status", method="POST", path=r"/workspaces$", status=503))
    with full.client(url=proxy.url) as client:
        assert client.workspaces.create("twice").name == "twice"
    assert proxy.count("POST", r"/workspaces$") == 2


def test_move_whose_answer_was_lost_is_resolved(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    make_file(tmp_path / "m", 10)
    with full.client(url=proxy.url) as client:
        client.files.upload(workspace, "m", tmp_path / "m")
        proxy.add(Fault("reset_response", method="POST", path="/files/m$"))
        client.files.move(workspace, "m", "n")  # the retry meets 404: it already moved
        assert [e.path for e in client.files.list(workspace)] == ["n"]
    assert proxy.count("POST", "/files/m$") == 2


def test_conditional_put_whose_answer_was_lost_is_resolved(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    digest = make_file(tmp_path / "k", 1000)
    proxy.add(Fault("reset_response", method="PUT", path="/files/k$"))
    with full.client(url=proxy.url) as client:
        sent = client.files.upload(workspace, "k", tmp_path / "k", create_only=True)
    assert sent.hash == digest  # the retry's 412 was our own first write
    assert proxy.count("PUT", "/files/k$") == 2


def test_download_resumes_with_range(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    digest = make_file(tmp_path / "d", 2 * MiB)
    with full.client(url=proxy.url) as client:
        client.files.upload(workspace, "d", tmp_path / "d")
        proxy.add(Fault("truncate", method="GET", path="/files/d$", after_bytes=700_000))
        proxy.add(Fault("reset_response", method="GET", path="/files/d$", after_bytes=500_000))
        ranges = record_headers(client, "range")
        got = client.files.download(workspace, "d", tmp_path / "d.dl", expected_hash=digest)
    assert got.hash == digest and file_hash(tmp_path / "d.dl") == digest
    assert ranges[0] is None and ranges[1] is not None and ranges[2] is not None
    first, second = (int(r.removeprefix("bytes=").rstrip("-")) for r in ranges[1:])  # type: ignore[union-attr]
    assert 0 < first <= 700_000 and first < second <= first + 500_000


def test_download_restarts_when_the_file_changed_between_attempts(
    full: Live, proxy: FaultProxy, workspace: str, tmp_path: Path
) -> None:
    make_file(tmp_path / "v1", MiB, seed=1)
    new = make_file(tmp_path / "v2", MiB, seed=2)
    with full.client(url=proxy.url) as client, full.client() as direct:
        client.files.upload(workspace, "v", tmp_path / "v1")
        proxy.add(Fault("truncate", method="GET", path="/files/v$", after_bytes=400_000))
        proxy.add(
            Fault(
                "hook",
                method="GET",
                path="/files/v$",
                hook=lambda: direct.files.upload(workspace, "v", tmp_path / "v2"),
            )
        )
        ranges = record_headers(client, "range")
        got = client.files.download(workspace, "v", tmp_path / "v.dl")
    assert got.hash == new and file_hash(tmp_path / "v.dl") == new
    assert ranges[0] is None and ranges[1] is not None and ranges[-1] is None
