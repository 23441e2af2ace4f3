"""CK_ATTRIBUTE arrays as p11-kit encodes them, into strongroom's typed values and back."""
from __future__ import annotations

import contextlib
import random
import struct

import pytest

from strongroom.pkcs11.constants import CKA, CKK, CKO, CKR
from strongroom.pkcs11.errors import CKRError
from strongroom.server.attribute_wire import WireClass, decode_attributes, encode_attributes, wire_class
from strongroom.server.message import MessageError


def _attr(cka: int, length: int, value: bytes) -> bytes:
    return struct.pack(">I", cka) + b"\x01" + struct.pack(">I", length) + value


def test_a_key_template_as_p11_kit_sends_it():
    data = struct.pack(">I", 4) + b"".join((
        _attr(CKA.CLASS, 8, struct.pack(">Q", CKO.PRIVATE_KEY)),          # ULONG class: uint64
        _attr(CKA.SIGN, 1, b"\x01"),                                       # BYTE class
        _attr(CKA.LABEL, 6, struct.pack(">I", 6) + b"device"),            # byte array
        _attr(CKA.DESTROYABLE, 1, struct.pack(">I", 1) + b"\x00"),        # unknown to p11-kit: raw C image
    ))
    template, end = decode_attributes(data, 0)
    assert end == len(data)
    assert template == [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.SIGN, True), (CKA.LABEL, "device"),
                        (CKA.DESTROYABLE, False)]


def test_round_trip_of_every_wire_class():
    pairs = [(CKA.KEY_TYPE, CKK.EC), (CKA.TOKEN, True), (CKA.ID, b"\x01\x02"), (CKA.START_DATE, b"20261207"),
             (CKA.ALLOWED_MECHANISMS, (0x1041, 0x1042)),
             (CKA.WRAP_TEMPLATE, ((CKA.CLASS, CKO.SECRET_KEY), (CKA.EXTRACTABLE, True))),
             (CKA.VALUE, None)]
    data = encode_attributes(pairs)
    assert wire_class(CKA.WRAP_TEMPLATE) is WireClass.ATTRIBUTE_ARRAY
    with pytest.raises(CKRError):                        # a value-less attribute cannot be input
        decode_attributes(data, 0)
    data = encode_attributes(pairs[:-1])
    template, end = decode_attributes(data, 0)
    assert template == pairs[:-1] and end == len(data)


def test_unavailable_values_are_a_zero_validity_byte():
    assert encode_attributes([(CKA.VALUE, None)]) == struct.pack(">I", 1) + struct.pack(">I", CKA.VALUE) + b"\x00"


def test_lying_counts_and_lengths_are_message_errors():
    with pytest.raises(MessageError):
        decode_attributes(struct.pack(">I", 10**6), 0)
    with pytest.raises(MessageError):
        decode_attributes(struct.pack(">I", 1) + _attr(CKA.LABEL, 5, struct.pack(">I", 5) + b"ab"), 0)
    nested = struct.pack(">I", 1)
    for _ in range(10):                                  # templates nested too deep
        nested = struct.pack(">I", 1) + _attr(CKA.WRAP_TEMPLATE, 24, nested)
    with pytest.raises(MessageError, match="deep"):
        decode_attributes(nested, 0)


def test_invalid_values_are_the_validators_ckr():
    data = struct.pack(">I", 1) + _attr(CKA.LABEL, 2, struct.pack(">I", 2) + b"\xff\xfe")
    with pytest.raises(CKRError) as info:
        decode_attributes(data, 0)
    assert info.value.rv == CKR.ATTRIBUTE_VALUE_INVALID


def test_mutated_arrays_end_as_message_or_ckr_errors():
    good = encode_attributes([(CKA.CLASS, CKO.DATA), (CKA.LABEL, "x" * 20), (CKA.ALLOWED_MECHANISMS, (1, 2))])
    rng = random.Random(3)
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        with contextlib.suppress(MessageError, CKRError):   # anything else fails the test
            decode_attributes(bytes(data), 0)
