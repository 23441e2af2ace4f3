"""p11-kit RPC framing as the service reads it: frames split anywhere, lying lengths."""
from __future__ import annotations

import random
import struct

import pytest

from strongroom.server.wire import (
    HEADER_LEN,
    MAX_VERSION,
    Frame,
    FrameError,
    FrameReader,
    encode_frame,
    negotiate_version,
)


def test_header_is_three_big_endian_uint32():
    raw = encode_frame(7, b"\x01\x02\x03", options=b"op")
    assert raw[:HEADER_LEN] == struct.pack(">III", 7, 2, 3)
    assert raw[HEADER_LEN:] == b"op\x01\x02\x03"


def test_frames_reassembled_from_any_split():
    frames = [Frame(1, b"", b"a" * 10), Frame(2, b"xy", b""), Frame(3, b"", b"b" * 1000)]
    stream = b"".join(encode_frame(f.call_code, f.body, f.options) for f in frames)
    rng = random.Random(12)
    for _ in range(50):
        reader, got, pos = FrameReader(), [], 0
        while pos < len(stream):
            step = rng.randint(1, 40)
            got += reader.feed(stream[pos:pos + step])
            pos += step
        assert got == frames
        assert reader.pending == 0


def test_partial_frame_is_pending_not_delivered():
    reader = FrameReader()
    raw = encode_frame(5, b"hello")
    assert reader.feed(raw[:-1]) == []
    assert reader.pending == len(raw) - 1
    assert reader.feed(raw[-1:]) == [Frame(5, b"", b"hello")]


def test_oversized_header_refused_before_the_body_arrives():
    reader = FrameReader(max_frame=1024)
    with pytest.raises(FrameError, match="exceeds"):
        reader.feed(struct.pack(">III", 1, 0, 0xFFFFFFFF))
    with pytest.raises(FrameError):
        FrameReader(max_frame=1024).feed(struct.pack(">III", 1, 600, 600))


def test_frame_at_the_limit_accepted():
    reader = FrameReader(max_frame=16)
    assert reader.feed(encode_frame(9, b"x" * 10, options=b"y" * 6)) == [Frame(9, b"y" * 6, b"x" * 10)]


def test_version_negotiation_answers_the_lower():
    assert negotiate_version(0) == 0
    assert negotiate_version(MAX_VERSION) == MAX_VERSION
    assert negotiate_version(200) == MAX_VERSION     # a newer client is answered with ours
    with pytest.raises(FrameError):
        negotiate_version(-1)
