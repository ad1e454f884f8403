"""The record stream's framing: truncation, trailing bytes, limits, strict lines, encoding."""

from __future__ import annotations

import json

import pytest

from syncd.protocol.batch import MkdirRecord, PutRecord, parse_read, parse_write
from syncd.protocol.records import (
    END,
    NEED_DATA,
    DuplicatePath,
    Header,
    Limits,
    MalformedLine,
    Payload,
    RecordDecoder,
    RecordEnd,
    RecordLimit,
    TrailingBytes,
    TruncatedStream,
    encode_stream,
)
from syncd.protocol.streams import iter_records


def line(obj: object) -> bytes:
    return json.dumps(obj).encode() + b"\n"


def put(path: str, data: bytes) -> bytes:
    return line({"op": "put", "path": path, "size": len(data)}) + data


NO_LIMITS = Limits()


def decode(stream: bytes, limits: Limits = NO_LIMITS, step: int | None = None) -> list:
    """Every (record, payload) of ``stream``, fed whole or ``step`` bytes at a time."""
    chunks = (
        [stream] if step is None else [stream[i : i + step] for i in range(0, len(stream), step)]
    )
    decoder = RecordDecoder(parse_write, limits)
    return [(record, payload.read()) for record, payload in iter_records(chunks, decoder)]


def test_events_of_a_put_and_a_mkdir_in_order() -> None:
    decoder = RecordDecoder(parse_write)
    decoder.feed(put("a", b"x\ny") + line({"op": "mkdir", "path": "d"}))
    decoder.end()
    events = []
    while (event := decoder.next_event()) is not END:
        events.append(event)
    assert events == [
        Header(PutRecord("a", 3), 0),
        Payload(b"x\ny"),
        RecordEnd(0),
        Header(MkdirRecord("d"), 1),
        RecordEnd(1),
    ]


def test_payloads_holding_newlines_and_record_like_bytes_stay_payload() -> None:
    tricky = b'\n{"op": "delete", "path": "a"}\n\n'
    stream = put("one", tricky) + put("two", b"\n") + put("three", b"")
    for step in (None, 1, 7):
        assert decode(stream, step=step) == [
            (PutRecord("one", len(tricky)), tricky),
            (PutRecord("two", 1), b"\n"),
            (PutRecord("three", 0), b""),
        ]


def test_an_empty_stream_has_no_records() -> None:
    assert decode(b"") == []


@pytest.mark.parametrize(
    "stream",
    [
        put("a", b"hello")[:-1],  # inside the payload
        line({"op": "mkdir", "path": "d"})[:-1],  # inside the line: no newline
        put("a", b"ok") + b'{"op": "mkdir"',  # a second record cut short
    ],
)
def test_a_stream_that_ends_inside_a_record_is_truncated(stream: bytes) -> None:
    with pytest.raises(TruncatedStream):
        decode(stream)


def test_the_decoder_waits_for_more_bytes_before_it_knows() -> None:
    decoder = RecordDecoder(parse_write)
    decoder.feed(b'{"op": "mkdir", "pa')
    assert decoder.next_event() is NEED_DATA
    decoder.feed(b'th": "d"}\n')
    assert decoder.next_event() == Header(MkdirRecord("d"), 0)
    assert decoder.next_event() == RecordEnd(0)
    assert decoder.next_event() is NEED_DATA
    decoder.end()
    assert decoder.next_event() is END


def test_bytes_after_the_expected_records_are_trailing() -> None:
    answer = line({"path": "a", "status": 404, "error": "not_found"})
    expected = Limits(expected=1)
    decoder = RecordDecoder(parse_read, expected)
    assert [r.path for r, _ in iter_records([answer], decoder)] == ["a"]
    with pytest.raises(TrailingBytes):
        list(iter_records([answer + b"x"], RecordDecoder(parse_read, expected)))
    with pytest.raises(TruncatedStream, match="1 of 2"):
        list(iter_records([answer], RecordDecoder(parse_read, Limits(expected=2))))


@pytest.mark.parametrize(
    "bad",
    [
        b"\n",  # an empty line
        b"not json\n",
        b"[1, 2]\n",
        b'"a string"\n',
        b'{"op": "mkdir", "path": "d"} trailing\n',
        b'{"op": "mkdir", "path": "d", "path": "e"}\n',  # a key twice
        b'{"op": "put", "path": "a", "size": NaN}\n',
        b'{"op": "put", "path": "a", "size": 1' + b"0" * 30 + b"}\n",
        b'{"op": "mkdir", "path": "\xff"}\n',  # not UTF-8
        b"[" * 100_000 + b"\n",
    ],
)
def test_a_line_that_is_not_one_strict_json_object_is_malformed(bad: bytes) -> None:
    with pytest.raises(MalformedLine):
        decode(bad)


def test_a_line_over_the_limit_is_refused_before_it_is_buffered_whole() -> None:
    decoder = RecordDecoder(parse_write, Limits(max_line=100))
    decoder.feed(b'{"op": "mkdir", "path": "' + b"a" * 200)
    with pytest.raises(MalformedLine, match="longer than 100"):
        decoder.next_event()


def test_nfc_and_nfd_spellings_of_one_path_are_duplicates() -> None:
    nfc, nfd = "caf\u00e9.txt", "cafe\u0301.txt"
    with pytest.raises(DuplicatePath, match="record 2"):
        decode(put(nfc, b"1") + put(nfd, b"2"))
    assert decode(put(nfd, b"1"))[0][0].path == nfc


def test_limits_are_checked_on_the_line_before_the_payload_is_read() -> None:
    with pytest.raises(RecordLimit, match="more than 2 records"):
        decode(b"".join(put(f"f{n}", b"x") for n in range(3)), Limits(max_records=2))
    with pytest.raises(RecordLimit, match="over 4"):
        # the line alone: the 5 payload bytes never arrive, yet the answer is 413
        decode(line({"op": "put", "path": "a", "size": 5}), Limits(max_payload=4))
    with pytest.raises(RecordLimit, match="more than 5 payload bytes"):
        decode(put("a", b"abc") + line({"op": "put", "path": "b", "size": 3}), Limits(max_total=5))


def test_non_ascii_paths_are_written_as_utf8_and_read_back() -> None:
    records = [(PutRecord("ü/日本/\u2028 x.txt", 2), b"\n\n"), (MkdirRecord("Ωmega"), None)]
    stream = b"".join(encode_stream(records))
    assert "ü/日本".encode() in stream and stream.count(b"\n") == 4
    assert decode(stream) == [
        (PutRecord("ü/日本/\u2028 x.txt", 2), b"\n\n"),
        (MkdirRecord("Ωmega"), b""),
    ]


def test_the_encoder_refuses_a_payload_of_another_size() -> None:
    with pytest.raises(ValueError, match="2 bytes, not 3"):
        b"".join(encode_stream([(PutRecord("a", 3), b"ab")]))
    with pytest.raises(ValueError, match="longer"):
        b"".join(encode_stream([(PutRecord("a", 1), [b"a", b"b"])]))


def test_the_encoder_gathers_small_records_into_chunks() -> None:
    records = [(PutRecord(f"f{n:04d}", 10), b"0123456789") for n in range(2000)]
    chunks = list(encode_stream(records, chunk=4096))
    assert len(chunks) < 30 and max(map(len, chunks)) <= 4096 + 100
    big = [(PutRecord("big", 100_000), [b"x" * 50_000, b"y" * 50_000])]
    assert [len(c) for c in encode_stream(big, chunk=4096)][1:] == [50_000, 50_000]


def test_an_unread_payload_is_skipped_and_the_next_record_still_found() -> None:
    large = b"z" * 200_000
    stream = put("large", large) + put("small", b"s")
    pieces = [stream[i : i + 1000] for i in range(0, len(stream), 1000)]
    seen = []
    for record, payload in iter_records(pieces, RecordDecoder(parse_write)):
        seen.append(record.path)
        if record.path == "large":
            assert payload.data is None  # streamed, not gathered
            next(iter(payload))  # read a little, leave the rest
        else:
            assert payload.data == b"s"
    assert seen == ["large", "small"]
