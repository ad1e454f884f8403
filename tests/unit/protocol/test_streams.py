"""Driving the decoder: sync and async sources agree, and any split of a stream decodes alike."""

from __future__ import annotations

import asyncio
import itertools
import unicodedata
from collections.abc import AsyncIterator

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.protocol.batch import DeleteRecord, MkdirRecord, PutRecord, WriteRecord, parse_write
from syncd.protocol.records import RecordDecoder, encode_stream
from syncd.protocol.streams import aiter_records, iter_records

HEX = "0123456789abcdef"
segments = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"], blacklist_characters="/"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))
paths = st.lists(segments, min_size=1, max_size=3).map("/".join)
payloads = st.one_of(st.binary(max_size=300), st.sampled_from([b"", b"\n", b"\n\n{}\n"]))
revisions = st.none() | st.integers(0, 2**63 - 1)


@st.composite
def batches(draw: st.DrawFn) -> list[tuple[WriteRecord, bytes]]:
    """Records with distinct NFC paths, each with its payload (empty but for puts)."""
    chosen = draw(st.lists(paths, max_size=8, unique_by=lambda p: unicodedata.normalize("NFC", p)))
    items: list[tuple[WriteRecord, bytes]] = []
    for raw in chosen:
        path = unicodedata.normalize("NFC", raw)
        kind = draw(st.sampled_from(["put", "delete", "mkdir"]))
        if kind == "put":
            data = draw(payloads)
            digest = draw(st.none() | st.text(HEX, min_size=64, max_size=64))
            record: WriteRecord = PutRecord(
                path,
                len(data),
                None if digest is None else f"sha256:{digest}",
                draw(revisions),
                draw(st.booleans()),
            )
            items.append((record, data))
        elif kind == "delete":
            items.append((DeleteRecord(path, draw(revisions)), b""))
        else:
            items.append((MkdirRecord(path), b""))
    return items


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(stream)) for c in cuts})
    bounds = [0, *points, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=200, deadline=None)
@given(batches(), st.lists(st.integers(0, 4000), max_size=20), st.integers(0, 64))
def test_encode_then_decode_gives_the_records_back(
    items: list[tuple[WriteRecord, bytes]], cuts: list[int], whole: int
) -> None:
    stream = b"".join(encode_stream([(r, p) for r, p in items], chunk=97))
    decoder = RecordDecoder(parse_write)
    decoded = [
        (record, payload.read())
        for record, payload in iter_records(split(stream, cuts), decoder, whole=whole)
    ]
    assert decoded == items


def test_an_async_source_gives_what_a_sync_one_gives() -> None:
    items = [(PutRecord("big", 200_000), b"\n" * 200_000), (MkdirRecord("d"), b"")]
    stream = b"".join(encode_stream(items))

    async def source() -> AsyncIterator[bytes]:
        for start in range(0, len(stream), 4096):
            yield stream[start : start + 4096]

    async def decode() -> list[tuple[WriteRecord, bytes, bool]]:
        found = []
        async for record, payload in aiter_records(source(), RecordDecoder(parse_write)):
            found.append((record, await payload.read(), payload.data is None))
        return found

    assert asyncio.run(decode()) == [
        (PutRecord("big", 200_000), b"\n" * 200_000, True),
        (MkdirRecord("d"), b"", False),
    ]


def test_an_async_payload_left_unread_is_skipped() -> None:
    stream = b"".join(
        encode_stream([(PutRecord("a", 100_000), b"a" * 100_000), (MkdirRecord("d"), b"")])
    )

    async def source() -> AsyncIterator[bytes]:
        for start in range(0, len(stream), 1000):
            yield stream[start : start + 1000]

    async def paths() -> list[str]:
        return [r.path async for r, _ in aiter_records(source(), RecordDecoder(parse_write))]

    assert asyncio.run(paths()) == ["a", "d"]
