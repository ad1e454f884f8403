"""Every status and error code of PROTOCOL.md's table maps to its class in syncd.errors."""

from __future__ import annotations

import httpx
import pytest

from syncd import errors
from syncd.transport.errors import error_for_exception, error_for_response, is_ambiguous

KEY = "sk-live-0123456789"


def answer(status: int, code: str, message: str = "no", **extra: object) -> httpx.Response:
    headers = {k.replace("_", "-"): str(v) for k, v in extra.pop("headers", {}).items()}  # type: ignore[union-attr]
    return httpx.Response(
        status, json={"error": code, "message": message, **extra}, headers=headers
    )


@pytest.mark.parametrize(
    ("status", "code", "context", "cls"),
    [
        (400, "invalid_parameter", "file", errors.InvalidParameter),
        (401, "unauthorized", "file", errors.Unauthorized),
        (404, "not_found", "workspace", errors.WorkspaceNotFound),
        (404, "not_found", "feed", errors.WorkspaceNotFound),
        (404, "not_found", "file", errors.NotFound),
        (404, "not_found", "upload", errors.NotFound),
        (405, "invalid_parameter", "file", errors.InvalidParameter),
        (409, "conflict", "file", errors.PathConflict),
        (410, "revision_obsoleted", "feed", errors.FeedReset),
        (412, "precondition_failed", "file", errors.PreconditionFailed),
        (413, "too_large", "file", errors.TooLarge),
        (429, "rate_limited", "file", errors.ServerBusy),
        (500, "internal", "file", errors.ServerFault),
        (502, "internal", "file", errors.ServerFault),
        (503, "unavailable", "file", errors.ServerBusy),
        (504, "internal", "file", errors.ServerFault),
    ],
)
def test_table_row(status: int, code: str, context: str, cls: type) -> None:
    exc = error_for_response(answer(status, code, "the reason"), "PUT a.txt", context, KEY)  # type: ignore[arg-type]
    assert type(exc) is cls
    assert (exc.status, exc.code) == (status, code)  # type: ignore[attr-defined]
    assert "the reason" in str(exc) and "PUT a.txt" in str(exc)


def test_offset_mismatch_carries_the_server_offset() -> None:
    exc = error_for_response(answer(409, "offset_mismatch", offset=4096), "PUT", "upload", KEY)
    assert isinstance(exc, errors.OffsetMismatch) and exc.offset == 4096


def test_offset_mismatch_without_offset_is_a_violation() -> None:
    exc = error_for_response(answer(409, "offset_mismatch"), "PUT", "upload", KEY)
    assert isinstance(exc, errors.ProtocolViolation)


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("0.5", 0.5), ("soon", None)])
def test_retry_after(header: str, expected: float | None) -> None:
    response = answer(429, "rate_limited", headers={"Retry-After": header})
    exc = error_for_response(response, "GET", "file", KEY)
    assert isinstance(exc, errors.ServerBusy) and exc.retry_after == expected


def test_key_echoed_by_a_server_is_scrubbed() -> None:
    exc = error_for_response(answer(401, "unauthorized", f"bad key {KEY}"), "GET", "file", KEY)
    assert KEY not in str(exc) and KEY not in repr(exc)


def test_error_body_that_is_not_json_still_maps_by_status() -> None:
    exc = error_for_response(httpx.Response(502, text="<html>bad gateway"), "GET", "file", KEY)
    assert isinstance(exc, errors.ServerFault) and exc.code is None  # type: ignore[attr-defined]


def test_unexpected_status_is_a_violation() -> None:
    exc = error_for_response(httpx.Response(302), "GET", "file", KEY)
    assert isinstance(exc, errors.ProtocolViolation)


def test_only_a_failed_connect_is_known_unsent() -> None:
    refused = error_for_exception(httpx.ConnectError("refused"), "PUT", KEY)
    reset = error_for_exception(httpx.ReadError("reset"), "PUT", KEY)
    cut = error_for_exception(httpx.RemoteProtocolError("incomplete body"), "GET", KEY)
    timeout = error_for_exception(httpx.ReadTimeout("slow"), "GET", KEY)
    assert all(isinstance(e, errors.ConnectionLost) for e in (refused, reset, cut, timeout))
    assert not is_ambiguous(refused)
    assert is_ambiguous(reset) and is_ambiguous(cut) and is_ambiguous(timeout)
    assert not is_ambiguous(error_for_response(answer(503, "unavailable"), "PUT", "file", KEY))
    assert is_ambiguous(error_for_response(answer(500, "internal"), "PUT", "file", KEY))
