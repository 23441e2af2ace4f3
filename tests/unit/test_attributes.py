"""Codec of typed attribute values: exact C images and ATTRIBUTE_VALUE_INVALID on bad shapes."""
from __future__ import annotations

import datetime

import pytest

from strongroom.pkcs11.attributes import ATTRIBUTE_KINDS, AttrKind, coerce, decode, encode, kind
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from strongroom.pkcs11.errors import CKRError


def _invalid(fn, *args):
    with pytest.raises(CKRError) as e:
        fn(*args)
    assert e.value.rv == CKR.ATTRIBUTE_VALUE_INVALID


def test_every_cka_has_a_kind():
    assert all(int(a) in ATTRIBUTE_KINDS for a in CKA)
    assert kind(0x80001234) is AttrKind.BYTES          # vendor/unknown
    assert kind(CKA.EC_PARAMS) is AttrKind.BYTES
    assert kind(CKA.LABEL) is AttrKind.STRING
    assert kind(CKA.UNIQUE_ID) is AttrKind.STRING
    assert kind(CKA.ALLOWED_MECHANISMS) is AttrKind.MECHANISMS
    assert kind(CKA.DERIVE_TEMPLATE) is AttrKind.TEMPLATE
    assert kind(CKA.PARAMETER_SET) is AttrKind.ULONG
    assert kind(CKA.ENCAPSULATE) is AttrKind.BOOL


@pytest.mark.parametrize("raw,value", [(b"\x00", False), (b"\x01", True), (b"\xff", True)])
def test_bool_decode(raw, value):
    assert decode(CKA.TOKEN, raw) is value


@pytest.mark.parametrize("raw", [b"", b"\x01\x00", b"\x00" * 8])
def test_bool_wrong_length(raw):
    _invalid(decode, CKA.SENSITIVE, raw)


def test_bool_encode():
    assert encode(CKA.TOKEN, True) == b"\x01"
    assert encode(CKA.TOKEN, False) == b"\x00"


def test_ulong_is_8_bytes_little_endian():
    assert encode(CKA.CLASS, CKO.SECRET_KEY) == b"\x04" + b"\x00" * 7
    assert decode(CKA.KEY_TYPE, (0x1F).to_bytes(8, "little")) == CKK.AES
    big = 0xFFFFFFFF_00000001        # no truncation to 32 bits (field notes)
    assert decode(CKA.VALUE_LEN, encode(CKA.VALUE_LEN, big)) == big


@pytest.mark.parametrize("raw", [b"\x04\x00\x00\x00", b"\x00" * 9, b""])
def test_ulong_wrong_length(raw):
    _invalid(decode, CKA.CLASS, raw)


def test_string_utf8():
    assert decode(CKA.LABEL, "clé".encode()) == "clé"
    assert encode(CKA.LABEL, "clé") == "clé".encode()
    _invalid(decode, CKA.LABEL, b"\xff\xfe")


@pytest.mark.parametrize("raw", [b"", b"20240131"])
def test_date_ok(raw):
    assert decode(CKA.START_DATE, raw) == raw


_FULLWIDTH_DATE = "".join(chr(0xFF10 + int(d)) for d in "20240131").encode()   # digits, but not ASCII


@pytest.mark.parametrize("raw", [b"2024013", b"2024-1-31", b"20240131\x00", _FULLWIDTH_DATE])
def test_date_bad(raw):
    _invalid(decode, CKA.END_DATE, raw)


def test_mechanisms():
    img = encode(CKA.ALLOWED_MECHANISMS, [CKM.RSA_PKCS_PSS, CKM.SHA256_RSA_PKCS_PSS])
    assert len(img) == 16
    assert decode(CKA.ALLOWED_MECHANISMS, img) == (CKM.RSA_PKCS_PSS, CKM.SHA256_RSA_PKCS_PSS)
    assert decode(CKA.ALLOWED_MECHANISMS, b"") == ()
    _invalid(decode, CKA.ALLOWED_MECHANISMS, b"\x00" * 12)


def test_bytes_pass_through():
    assert decode(CKA.ID, b"\x00\x01") == b"\x00\x01"
    assert decode(0x80000001, b"xyz") == b"xyz"
    assert encode(CKA.VALUE, bytearray(b"ab")) == b"ab"


def test_template_storage_roundtrip_nested():
    value = ((CKA.CLASS, CKO.SECRET_KEY), (CKA.LABEL, "w"), (CKA.EXTRACTABLE, False),
             (CKA.ALLOWED_MECHANISMS, (CKM.AES_GCM,)),
             (CKA.DERIVE_TEMPLATE, ((CKA.SENSITIVE, True),)))
    img = encode(CKA.UNWRAP_TEMPLATE, value)
    assert decode(CKA.UNWRAP_TEMPLATE, img) == value
    assert decode(CKA.WRAP_TEMPLATE, encode(CKA.WRAP_TEMPLATE, ())) == ()


@pytest.mark.parametrize("cut", [1, 8, 20])
def test_template_truncated(cut):
    img = encode(CKA.WRAP_TEMPLATE, ((CKA.LABEL, "abc"),))
    _invalid(decode, CKA.WRAP_TEMPLATE, img[:-cut])


def test_template_trailing_bytes():
    img = encode(CKA.WRAP_TEMPLATE, ((CKA.TOKEN, True),))
    _invalid(decode, CKA.WRAP_TEMPLATE, img + b"\x00")


def test_template_inner_value_checked():
    img = encode(CKA.WRAP_TEMPLATE, ((CKA.ID, b"\x01"),))
    bad = img.replace((CKA.ID).to_bytes(8, "little"), (CKA.TOKEN).to_bytes(8, "little"))
    bad = bad[:16] + (2).to_bytes(8, "little") + b"\x01\x01"   # 2-byte CK_BBOOL
    _invalid(decode, CKA.WRAP_TEMPLATE, bad)


@pytest.mark.parametrize("cka,value", [
    (CKA.TOKEN, 1), (CKA.TOKEN, None), (CKA.TOKEN, b"\x01"),
    (CKA.CLASS, True), (CKA.CLASS, -1), (CKA.CLASS, 2**64), (CKA.CLASS, "4"),
    (CKA.ID, "abc"), (CKA.VALUE, 5),
    (CKA.LABEL, b"abc"), (CKA.LABEL, "\udc80"),
    (CKA.START_DATE, "20240101"), (CKA.START_DATE, b"2024"),
    (CKA.ALLOWED_MECHANISMS, CKM.AES_GCM), (CKA.ALLOWED_MECHANISMS, [True]),
    (CKA.WRAP_TEMPLATE, [(CKA.TOKEN, 1)]), (CKA.WRAP_TEMPLATE, [(CKA.TOKEN,)]),
])
def test_coerce_is_strict(cka, value):
    _invalid(coerce, cka, value)


def test_coerce_canonical_forms():
    assert coerce(CKA.ID, bytearray(b"\x01")) == b"\x01"
    assert type(coerce(CKA.CLASS, CKO.DATA)) is int
    assert coerce(CKA.ALLOWED_MECHANISMS, [CKM.ECDSA]) == (CKM.ECDSA,)
    assert coerce(CKA.START_DATE, datetime.date(2024, 2, 3)) == b"20240203"
    assert coerce(CKA.WRAP_TEMPLATE, [[CKA.TOKEN, True]]) == ((CKA.TOKEN, True),)
