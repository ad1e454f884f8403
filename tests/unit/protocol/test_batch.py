"""The records of E5 and E6: exactly what PROTOCOL.md allows, each refusal its own error."""

from __future__ import annotations

from typing import Any

import pytest

from syncd.protocol.batch import (
    DeleteRecord,
    MkdirRecord,
    PutRecord,
    ReadRecord,
    parse_read,
    parse_read_request,
    parse_write,
)
from syncd.protocol.records import BadField, DuplicatePath, RecordLimit, UnknownOp

HASH = "sha256:" + "0f" * 32


def test_every_write_record_of_the_protocol_parses() -> None:
    assert parse_write({"op": "put", "path": "a", "size": 3}) == PutRecord("a", 3)
    full = {"op": "put", "path": "a", "size": 3, "hash": HASH, "if_match": 7, "if_none_match": "*"}
    assert parse_write(full) == PutRecord("a", 3, HASH, 7, True)
    assert parse_write({"op": "delete", "path": "d", "if_match": 2}) == DeleteRecord("d", 2)
    assert parse_write({"op": "mkdir", "path": "m/n"}) == MkdirRecord("m/n")
    assert parse_write({"op": "mkdir", "path": "m", "future": 1}) == MkdirRecord("m")


@pytest.mark.parametrize(
    ("obj", "error"),
    [
        ({"op": "rename", "path": "a"}, UnknownOp),
        ({"path": "a"}, BadField),
        ({"op": 1, "path": "a"}, BadField),
        ({"op": "put", "path": "a"}, BadField),  # no size
        ({"op": "put", "path": "a", "size": -1}, BadField),
        ({"op": "put", "path": "a", "size": True}, BadField),
        ({"op": "put", "path": "a", "size": 1.0}, BadField),
        ({"op": "put", "path": "a", "size": "1"}, BadField),
        ({"op": "put", "path": "a", "size": 1, "hash": "sha256:ABC"}, BadField),
        ({"op": "put", "path": "a", "size": 1, "hash": None}, BadField),
        ({"op": "put", "path": "a", "size": 1, "if_match": None}, BadField),
        ({"op": "put", "path": "a", "size": 1, "if_match": False}, BadField),
        ({"op": "put", "path": "a", "size": 1, "if_none_match": "x"}, BadField),
        ({"op": "put", "path": "a", "size": 1, "if_none_match": True}, BadField),
        ({"op": "delete", "path": "a", "size": 0}, BadField),  # would desynchronise
        ({"op": "delete", "path": "a", "if_none_match": "*"}, BadField),
        ({"op": "mkdir", "path": "a", "if_match": 1}, BadField),  # not silently dropped
        ({"op": "mkdir", "path": "../a"}, BadField),
        ({"op": "mkdir", "path": "a/"}, BadField),
        ({"op": "mkdir", "path": "/a"}, BadField),
        ({"op": "mkdir", "path": "a\nb"}, BadField),
        ({"op": "mkdir", "path": "\ud800"}, BadField),
        ({"op": "mkdir", "path": "x" * 256}, BadField),
        ({"op": "mkdir", "path": ["a"]}, BadField),
    ],
)
def test_each_malformed_write_record_is_refused(obj: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        parse_write(obj)


def test_records_round_trip_through_their_json() -> None:
    for record in (
        PutRecord("a", 3, HASH, 7, True),
        PutRecord("b", 0),
        DeleteRecord("c"),
        DeleteRecord("c", 4),
        MkdirRecord("d"),
    ):
        assert parse_write(record.to_json()) == record
    found = ReadRecord("f", 200, 3, 9, HASH, "2026-11-22T10:00:00+00:00")
    assert parse_read(found.to_json()) == found and found.payload_size == 3
    missing = ReadRecord("g", 404, error="not_found")
    assert parse_read(missing.to_json()) == missing and missing.payload_size == 0


def test_read_answers_need_their_fields() -> None:
    with pytest.raises(BadField):
        parse_read({"path": "f", "status": 200, "size": 1, "revision": 1, "hash": HASH})
    with pytest.raises(BadField):
        parse_read({"path": "f", "status": 404})
    with pytest.raises(BadField):
        parse_read({"path": "f", "status": "200"})
    with pytest.raises(BadField):
        parse_read({"path": "../f", "status": 404, "error": "not_found"})


def test_a_read_request_names_one_to_max_paths_each_once() -> None:
    assert parse_read_request({"paths": ["a", "cafe\u0301"]}, 5) == ["a", "caf\u00e9"]
    for body in ({}, {"paths": []}, {"paths": "a"}, {"paths": [1]}, {"paths": ["a/"]}):
        with pytest.raises(BadField):
            parse_read_request(body, 5)
    with pytest.raises(DuplicatePath):
        parse_read_request({"paths": ["caf\u00e9", "cafe\u0301"]}, 5)
    with pytest.raises(RecordLimit):
        parse_read_request({"paths": [f"p{n}" for n in range(6)]}, 5)
