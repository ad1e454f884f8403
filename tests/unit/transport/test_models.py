"""Parsing the exact JSON of seeds 000/001 and PROTOCOL.md, and refusing anything else."""

from __future__ import annotations

import pytest

from syncd.errors import ProtocolViolation
from syncd.planner.trees import Kind, RemoteNode
from syncd.transport.models import (
    BatchLimits,
    Capabilities,
    parse_account,
    parse_capabilities,
    parse_changes,
    parse_entry,
    parse_listing,
    parse_upload_session,
    parse_workspace,
    parse_workspaces,
)

HASH = "sha256:" + "ab" * 32
FILE = {
    "path": "mymod/plugin.py",
    "type": "file",
    "size": 12,
    "modified_time": "2026-11-22T10:00:00.123456+00:00",
}
DIR = {"path": "mymod", "type": "directory", "size": None, "modified_time": None}
WORKSPACE = {
    "id": "w-1",
    "name": "My Workspace",
    "size": 12,
    "create_time": "2026-11-22T10:00:00+00:00",
    "modified_time": "2026-11-22T10:00:00Z",
}


def test_base_entries_parse_exactly_as_seed_001() -> None:
    listing = parse_listing({"entries": [DIR, FILE]})
    assert [e.path for e in listing] == ["mymod", "mymod/plugin.py"]
    assert listing[0].type is Kind.DIR and listing[0].size is None
    assert listing[1].revision is None and listing[1].hash is None
    assert listing.rejected == []


def test_e1_fields_reach_the_remote_node() -> None:
    entry = parse_entry({**FILE, "revision": 7, "hash": HASH})
    assert entry.to_remote_node() == RemoteNode(
        "mymod/plugin.py", Kind.FILE, 12, FILE["modified_time"], 7, HASH
    )


def test_nfd_path_comes_back_nfc() -> None:
    entry = parse_entry({**FILE, "path": "cafe\u0301.txt"})
    assert entry.path == "caf\u00e9.txt"


@pytest.mark.parametrize(
    "path", ["../escape", "/etc/passwd", "a//b", "a/./b", "a\x00b", "x/", "a/" + "n" * 256]
)
def test_hostile_path_is_rejected_without_stopping_the_listing(path: str) -> None:
    listing = parse_listing({"entries": [{**FILE, "path": path}, FILE]})
    assert [e.path for e in listing] == ["mymod/plugin.py"]
    assert len(listing.rejected) == 1 and listing.rejected[0][0] == path


@pytest.mark.parametrize(
    "change",
    [
        {"type": "link"},
        {"size": None},
        {"size": -1},
        {"size": True},
        {"modified_time": "yesterday"},
        {"hash": "md5:abc"},
        {"revision": "7"},
    ],
)
def test_malformed_entry_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ProtocolViolation):
        parse_entry({**FILE, **change})


def test_directory_with_size_is_refused() -> None:
    with pytest.raises(ProtocolViolation):
        parse_entry({**DIR, "size": 3})


def test_missing_key_is_refused() -> None:
    with pytest.raises(ProtocolViolation, match="modified_time"):
        parse_entry({"path": "a", "type": "file", "size": 1})


@pytest.mark.parametrize("data", [None, [], {"entries": None}, {"entries": {}}, "x"])
def test_wrong_listing_shape_is_refused(data: object) -> None:
    with pytest.raises(ProtocolViolation):
        parse_listing(data)


def test_workspaces_and_account() -> None:
    assert parse_workspaces({"workspaces": [WORKSPACE]})[0].name == "My Workspace"
    assert parse_workspace(WORKSPACE).modified_time.endswith("Z")
    account = parse_account(
        {
            "id": "a-1",
            "tag": "alice",
            "create_time": "2026-01-01T00:00:00+00:00",
            "last_active_day": None,
            "total_active_days": 3,
        }
    )
    assert (account.id, account.total_active_days) == ("a-1", 3)
    with pytest.raises(ProtocolViolation):
        parse_workspace({**WORKSPACE, "size": "big"})


def test_changes_page_sets_bad_entries_aside() -> None:
    page = parse_changes(
        {
            "end_revision": 9,
            "created": [{**FILE, "revision": 8, "hash": HASH}],
            "updated": [{**FILE, "path": "../x", "revision": 9, "hash": HASH}],
            "deleted": [{"path": "old", "type": "directory", "revision": 9}, {"path": "/x"}],
            "has_more": False,
        }
    )
    assert page.end_revision == 9 and not page.has_more
    assert [d.path for d in page.deleted] == ["old"]
    assert {raw for raw, _ in page.rejected} == {"../x", "/x"}


def test_changes_without_has_more_is_refused() -> None:
    with pytest.raises(ProtocolViolation, match="has_more"):
        parse_changes({"end_revision": 1, "created": [], "updated": [], "deleted": []})


def test_upload_session_and_capabilities() -> None:
    session = parse_upload_session(
        {
            "upload_id": "u1",
            "offset": 0,
            "chunk_size": 1024,
            "expires_time": "2026-11-23T00:00:00+00:00",
        }
    )
    assert session.chunk_size == 1024
    with pytest.raises(ProtocolViolation):
        parse_upload_session({"upload_id": "u1", "offset": 0, "chunk_size": 0, "expires_time": "x"})
    caps = parse_capabilities(
        {"changes": True, "uploads": True, "conditional": True, "hashes": "sha256", "max_body": 10}
    )
    assert caps == Capabilities(True, True, True, "sha256", 10)
    assert Capabilities.base_only().is_base_only and not caps.is_base_only
    assert caps.batch is None and Capabilities.base_only().batch is None
    with pytest.raises(ProtocolViolation):
        parse_capabilities({"changes": "yes"})
    batched = parse_capabilities({"batch": {"max_items": 100, "max_bytes": 8 << 20}})
    assert batched.batch == BatchLimits(100, 8 << 20)
    assert parse_capabilities({"batch": None}).batch is None
    for bad in ({"max_items": 0, "max_bytes": 1}, {"max_items": 1}, [], {"max_items": True}):
        with pytest.raises(ProtocolViolation):
            parse_capabilities({"batch": bad})
