"""Mechanisms, per-message parameters and C_GetAttributeValue answers on the wire: the
layout rows give p11-kit's own encodings for the structs it knows, every other struct
round-trips, and lying lengths end as a spec code or a broken message, never a read past
the frame."""
from __future__ import annotations

import contextlib
import random
import struct

import pytest

from strongroom.pkcs11 import param_layouts as PL
from strongroom.pkcs11.constants import CKA, CKG, CKM, CKR
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.params import GcmParams, RsaOaepParams, RsaPssParams
from strongroom.pkcs11.template import Unreadable
from strongroom.server.attribute_wire import Wanted, encode_get_answer, read_wanted
from strongroom.server.mechanism_wire import decode_mechanism, decode_param, encode_param
from strongroom.server.message import Cursor, MessageError

DATA_MAX = 1 << 20


def _u32(v: int) -> bytes:
    return struct.pack(">I", v)


def _u64(v: int) -> bytes:
    return struct.pack(">Q", v)


def _arr(b: bytes | None) -> bytes:
    return _u32(0xFFFFFFFF) if b is None else _u32(len(b)) + b


def _mech(data: bytes):  # type: ignore[no-untyped-def]
    cur = Cursor(data)
    mech = decode_mechanism(cur, DATA_MAX)
    assert cur.pos == len(data)
    return mech


def test_pss_is_p11_kits_encoding() -> None:
    wire = _u32(CKM.RSA_PKCS_PSS) + _u64(CKM.SHA256) + _u64(CKG.MGF1_SHA256) + _u64(32)
    assert _mech(wire).param == RsaPssParams(CKM.SHA256, CKG.MGF1_SHA256, 32)


def test_oaep_and_gcm_are_p11_kits_encodings() -> None:
    oaep = _u32(CKM.RSA_PKCS_OAEP) + _u64(CKM.SHA256) + _u64(CKG.MGF1_SHA256) + _u64(1) + _arr(b"label")
    assert _mech(oaep).param == RsaOaepParams(CKM.SHA256, CKG.MGF1_SHA256, 1, b"label")
    gcm = _u32(CKM.AES_GCM) + _arr(b"\x01" * 12) + _u64(96) + _arr(None) + _u64(128)
    assert _mech(gcm).param == GcmParams(b"\x01" * 12, 96, b"", 128)


def test_a_mechanism_without_parameter_and_a_raw_iv() -> None:
    assert _mech(_u32(CKM.ECDSA) + _arr(None)).param is None
    assert _mech(_u32(CKM.AES_CBC_PAD) + _arr(b"\x02" * 16)).param == b"\x02" * 16
    assert _mech(_u32(CKM.SHA256_HMAC_GENERAL) + _u64(16)).param == 16


def test_null_mechanism_is_arguments_bad() -> None:
    with pytest.raises(CKRError) as e:
        decode_mechanism(Cursor(_u32(0xFFFFFFFF)), DATA_MAX)
    assert e.value.rv == CKR.ARGUMENTS_BAD


def test_member_longer_than_its_bound_is_param_invalid() -> None:
    wire = _u32(CKM.EDDSA) + b"\x00" + _arr(b"c" * 256)          # RFC 8032 contexts: at most 255
    with pytest.raises(CKRError) as e:
        decode_mechanism(Cursor(wire), DATA_MAX)
    assert e.value.rv == CKR.MECHANISM_PARAM_INVALID
    aad = _u32(CKM.AES_GCM) + _arr(b"\x01" * 12) + _u64(96) + _arr(b"a" * 65) + _u64(128)
    with pytest.raises(CKRError):
        decode_mechanism(Cursor(aad), 64)                         # AAD bounded by max_data_len


def test_inline_array_of_another_size_is_param_invalid() -> None:
    with pytest.raises(CKRError) as e:
        decode_mechanism(Cursor(_u32(CKM.AES_CTR) + _u64(32) + _arr(b"\x00" * 15)), DATA_MAX)
    assert e.value.rv == CKR.MECHANISM_PARAM_INVALID


def _sample(f: PL.Field, i: int) -> object:
    if f.kind == PL.ULONG:
        return 7 * i + 1
    if f.kind == PL.BOOL:
        return bool(i % 2)
    if f.kind in (PL.INLINE, PL.FIXED_BYTES):
        return bytes([i]) * f.size
    return bytes([0x30 + i]) * 3


@pytest.mark.parametrize("cls", list(PL.LAYOUTS), ids=lambda c: c.__name__)
def test_every_layout_round_trips(cls: type) -> None:
    value = cls(**{f.name: _sample(f, i) for i, f in enumerate(PL.LAYOUTS[cls].fields)})
    image = encode_param(cls, value)
    cur = Cursor(image)
    assert decode_param(cls, cur, DATA_MAX) == value and cur.pos == len(image)


@pytest.mark.parametrize("cls", list(PL.LAYOUTS), ids=lambda c: c.__name__)
def test_truncated_or_mutated_parameters_never_read_past_the_end(cls: type) -> None:
    value = cls(**{f.name: _sample(f, i) for i, f in enumerate(PL.LAYOUTS[cls].fields)})
    image = encode_param(cls, value)
    rng = random.Random(cls.__name__)
    for cut in range(len(image)):
        with pytest.raises(MessageError):
            decode_param(cls, Cursor(image[:cut]), DATA_MAX)
    for _ in range(300):
        bad = bytearray(image)
        bad[rng.randrange(len(bad))] = rng.randrange(256)
        with contextlib.suppress(MessageError, CKRError):    # anything else is a defect
            decode_param(cls, Cursor(bytes(bad)), DATA_MAX)


def test_get_attribute_answer_size_query_too_small_and_unreadable() -> None:
    wanted = [Wanted(CKA.LABEL, 0), Wanted(CKA.CLASS, 8), Wanted(CKA.VALUE, 2), Wanted(CKA.PRIVATE_EXPONENT, 64),
              Wanted(CKA.ALLOWED_MECHANISMS, 0)]
    values = ["abc", 3, b"long value", Unreadable.SENSITIVE, (CKM.ECDSA,)]
    out, rv = encode_get_answer(wanted, values)
    assert rv == CKR.ATTRIBUTE_SENSITIVE
    expected = (_u32(5)
                + _u32(CKA.LABEL) + b"\x01" + _u32(3) + _u32(0xFFFFFFFF)      # size query: length, NULL
                + _u32(CKA.CLASS) + b"\x01" + _u32(8) + _u64(3)
                + _u32(CKA.VALUE) + b"\x00"                                  # too small: unavailable
                + _u32(CKA.PRIVATE_EXPONENT) + b"\x00"
                + _u32(CKA.ALLOWED_MECHANISMS) + b"\x01" + _u32(8) + _u32(0))  # count 0, length 8
    assert out == expected
    _, rv = encode_get_answer(wanted[:3], values[:3])
    assert rv == CKR.BUFFER_TOO_SMALL


def test_wanted_templates_nest_only_when_the_protocol_says() -> None:
    body = _u32(2) + _u32(CKA.WRAP_TEMPLATE) + _u32(48) + _u32(1) + _u32(CKA.CLASS) + _u32(8) + _u32(CKA.ID) + _u32(4)
    assert read_wanted(Cursor(body), nested=True) == [
        Wanted(CKA.WRAP_TEMPLATE, 48, (Wanted(CKA.CLASS, 8),)), Wanted(CKA.ID, 4)]
    flat = read_wanted(Cursor(body), nested=False)
    assert flat[0] == Wanted(CKA.WRAP_TEMPLATE, 48)


def test_level_1_marks_a_struct_parameter_present_or_absent() -> None:
    """Extension level 1: one byte before a struct parameter says whether there is one, so
    CKM_EDDSA and CKM_ML_DSA without a parameter (their optional struct) reach the core as
    None -- pure Ed25519 is not Ed25519ctx with an empty context."""
    from strongroom.pkcs11.params import EddsaParams, SignAdditionalContext

    def marked(data: bytes):  # type: ignore[no-untyped-def]
        cur = Cursor(data)
        mech = decode_mechanism(cur, DATA_MAX, marked=True)
        assert cur.pos == len(data)
        return mech

    assert marked(_u32(CKM.EDDSA) + b"\x00").param is None
    assert marked(_u32(CKM.ML_DSA) + b"\x00").param is None
    assert marked(_u32(CKM.ML_DSA) + b"\x01" + _u64(0) + _arr(b"ctx")).param == SignAdditionalContext(0, b"ctx")
    assert marked(_u32(CKM.EDDSA) + b"\x01" + b"\x01" + _arr(None)).param == EddsaParams(True, b"")
    assert marked(_u32(CKM.ECDSA) + _arr(None)).param is None          # no struct: no marker
    assert marked(_u32(CKM.AES_CBC_PAD) + _arr(b"\x02" * 16)).param == b"\x02" * 16
    with pytest.raises(CKRError) as bad:
        marked(_u32(CKM.RSA_PKCS_PSS) + b"\x02" + _u64(CKM.SHA256) + _u64(CKG.MGF1_SHA256) + _u64(32))
    assert bad.value.rv == CKR.MECHANISM_PARAM_INVALID
    with pytest.raises(MessageError):
        marked(_u32(CKM.RSA_PKCS_PSS))                                  # the marker missing
