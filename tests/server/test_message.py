"""The message codec against p11-kit's encodings, and against peers that lie."""
from __future__ import annotations

import random
import struct

import pytest

from strongroom.server.message import NULL_LENGTH, MessageError, MessageReader, MessageWriter

# signatures of three real calls (C_GetSlotList, C_Login, C_GetMechanismInfo's response)
SIGS = {3: "yfu", 18: "uuay", 7: "uuu"}


def _request(call: int, sig: str, rest: bytes) -> bytes:
    return struct.pack(">I", call) + struct.pack(">I", len(sig)) + sig.encode() + rest


def test_login_request_as_p11_kit_encodes_it():
    # session 5, CKU_USER, PIN "1234": ulong, ulong, flag 1 + byte array
    body = _request(18, "uuay", struct.pack(">QQ", 5, 1) + b"\x01" + struct.pack(">I", 4) + b"1234")
    r = MessageReader(body, SIGS)
    assert (r.call_id, r.ulong(), r.ulong(), r.byte_array(64)) == (18, 5, 1, b"1234")
    r.finish()


def test_writer_and_reader_agree():
    body = MessageWriter(18, "uuay").ulong(2**64 - 1).ulong(0).byte_array(b"\x00" * 3).body()
    r = MessageReader(body, SIGS)
    assert (r.ulong(), r.ulong(), r.byte_array(8)) == (2**64 - 1, 0, b"\x00\x00\x00")
    r.finish()


def test_length_only_and_null_arrays():
    body = _request(18, "uuay", struct.pack(">QQ", 1, 1) + b"\x00" + struct.pack(">I", 32))
    r = MessageReader(body, SIGS)
    r.ulong(), r.ulong()
    assert r.byte_array(64) == 32            # a size query: no bytes, a length
    body = _request(18, "uuay", struct.pack(">QQ", 1, 1) + b"\x01" + struct.pack(">I", NULL_LENGTH))
    r = MessageReader(body, SIGS)
    r.ulong(), r.ulong()
    assert r.byte_array(64) is None


def test_slot_list_request_and_buffer_length():
    r = MessageReader(_request(3, "yfu", b"\x01" + struct.pack(">I", 16)), SIGS)
    assert (r.byte(), r.ulong_buffer()) == (1, 16)
    r.finish()


@pytest.mark.parametrize("body, match", [
    (struct.pack(">I", 99) + struct.pack(">I", 1) + b"u", "unknown call"),
    (_request(18, "uuau", b""), "signature does not match"),
    (struct.pack(">I", 18) + struct.pack(">I", NULL_LENGTH), "signature does not match"),
    (_request(18, "uuay", struct.pack(">Q", 1)), "ends inside"),
    (_request(18, "uuay", struct.pack(">QQ", 1, 1) + b"\x01" + struct.pack(">I", 0x7FFFFFFF)), "exceeds"),
    (_request(18, "uuay", struct.pack(">QQ", 1, 1) + b"\x01" + struct.pack(">I", 65) + b"x" * 65), "exceeds"),
    (_request(18, "uuay", struct.pack(">QQ", 1, 1) + b"\x02" + struct.pack(">I", 1) + b"x"), "flag"),
])
def test_lies_are_message_errors(body, match):
    with pytest.raises(MessageError, match=match):
        r = MessageReader(body, SIGS)
        r.ulong(), r.ulong(), r.byte_array(64)


def test_parts_out_of_signature_order_refused():
    r = MessageReader(_request(18, "uuay", struct.pack(">QQ", 1, 1) + b"\x00" + struct.pack(">I", 0)), SIGS)
    with pytest.raises(MessageError, match="where"):
        r.byte_array(8)


def test_trailing_bytes_and_unread_parts_refused():
    r = MessageReader(_request(7, "uuu", struct.pack(">QQQ", 1, 2, 3) + b"!"), SIGS)
    r.ulong(), r.ulong(), r.ulong()
    with pytest.raises(MessageError, match="trailing"):
        r.finish()
    r = MessageReader(_request(7, "uuu", struct.pack(">QQQ", 1, 2, 3)), SIGS)
    r.ulong()
    with pytest.raises(MessageError, match="not read"):
        r.finish()


def test_random_bytes_never_escape_as_other_errors():
    rng = random.Random(7)
    good = MessageWriter(18, "uuay").ulong(3).ulong(1).byte_array(b"secret").body()
    for _ in range(3000):
        body = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        body = bytes(body[: rng.randint(0, len(body))]) if rng.random() < 0.3 else bytes(body)
        try:
            r = MessageReader(body, SIGS)
            r.ulong(), r.ulong(), r.byte_array(64)
            r.finish()
        except MessageError:
            pass


def test_space_string_is_blank_padded():
    body = MessageWriter(7, "uuu").ulong(1).ulong(2).ulong(3).body()
    assert len(body) == 4 + 4 + 3 + 24
    w = MessageWriter(1, "s").space_string("strongroom", 32)
    assert w.body().endswith(b"strongroom" + b" " * 22)
