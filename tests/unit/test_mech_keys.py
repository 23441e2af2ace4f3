"""Key import normalisation (C_CreateObject) and loaders."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from strongroom.mechanisms import ecparams
from strongroom.mechanisms.keys import key_size, load_private, load_public, normalize_key_attrs
from strongroom.pkcs11.constants import CKA, CKK, CKO, CKR
from strongroom.pkcs11.errors import CKRError

P256 = bytes.fromhex("06082a8648ce3d030107")


def b(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def expect(rv, *args):
    with pytest.raises(CKRError) as e:
        normalize_key_attrs(*args)
    assert e.value.rv == rv


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(65537, 2048)


@pytest.mark.parametrize("fmt", [PublicFormat.UncompressedPoint, PublicFormat.CompressedPoint])
@pytest.mark.parametrize("der", [True, False])
def test_ec_point_every_form_normalised_to_der_uncompressed(ec_key, fmt, der):
    raw = ec_key.public_key().public_bytes(Encoding.X962, fmt)
    given = ecparams.encode_point(raw) if der else raw
    attrs = {CKA.EC_PARAMS: P256, CKA.EC_POINT: given}
    out = normalize_key_attrs(CKO.PUBLIC_KEY, CKK.EC, attrs)
    unc = ec_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert out[CKA.EC_POINT] == b"\x04\x41" + unc
    assert out[CKA.PUBLIC_KEY_INFO] == ec_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert load_public({CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.EC, **attrs, **out}) == ec_key.public_key()


def test_ec_point_off_curve(ec_key):
    raw = bytearray(ec_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))
    raw[-1] ^= 1
    expect(CKR.ATTRIBUTE_VALUE_INVALID, CKO.PUBLIC_KEY, CKK.EC, {CKA.EC_PARAMS: P256, CKA.EC_POINT: bytes(raw)})
    expect(CKR.ATTRIBUTE_VALUE_INVALID, CKO.PUBLIC_KEY, CKK.EC, {CKA.EC_PARAMS: P256, CKA.EC_POINT: b"\x04\x00"})
    expect(CKR.TEMPLATE_INCOMPLETE, CKO.PUBLIC_KEY, CKK.EC, {CKA.EC_PARAMS: P256})
    expect(CKR.CURVE_NOT_SUPPORTED, CKO.PUBLIC_KEY, CKK.EC,
           {CKA.EC_PARAMS: bytes.fromhex("06052b81040021"), CKA.EC_POINT: bytes(raw)})   # secp224r1


def test_ec_private_scalar_range(ec_key):
    d = ec_key.private_numbers().private_value
    out = normalize_key_attrs(CKO.PRIVATE_KEY, CKK.EC, {CKA.EC_PARAMS: P256, CKA.VALUE: b(d)})
    assert set(out) == {CKA.PUBLIC_KEY_INFO}
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    for bad in (b"\x00", b(order), b(order + 1)):
        expect(CKR.ATTRIBUTE_VALUE_INVALID, CKO.PRIVATE_KEY, CKK.EC, {CKA.EC_PARAMS: P256, CKA.VALUE: bad})
    key = load_private({CKA.KEY_TYPE: CKK.EC, CKA.EC_PARAMS: P256, CKA.VALUE: b(d)})
    assert key.private_numbers() == ec_key.private_numbers()


def test_rsa_public(rsa_key):
    n = rsa_key.public_key().public_numbers()
    attrs = {CKA.MODULUS: b(n.n), CKA.PUBLIC_EXPONENT: b(n.e)}
    out = normalize_key_attrs(CKO.PUBLIC_KEY, CKK.RSA, attrs)
    assert out[CKA.MODULUS_BITS] == 2048
    spki = rsa_key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert out[CKA.PUBLIC_KEY_INFO] == spki
    expect(CKR.TEMPLATE_INCONSISTENT, CKO.PUBLIC_KEY, CKK.RSA, {**attrs, CKA.PUBLIC_KEY_INFO: b"\x30\x00"})
    assert normalize_key_attrs(CKO.PUBLIC_KEY, CKK.RSA, {**attrs, CKA.PUBLIC_KEY_INFO: b""}) == out
    assert key_size({CKA.KEY_TYPE: CKK.RSA, **attrs}) == 2048
    expect(CKR.ATTRIBUTE_VALUE_INVALID, CKO.PUBLIC_KEY, CKK.RSA, {CKA.MODULUS: b(n.n), CKA.PUBLIC_EXPONENT: b"\x01"})
    expect(CKR.ATTRIBUTE_VALUE_INVALID, CKO.PUBLIC_KEY, CKK.RSA,
           {CKA.MODULUS: b(n.n >> 1100), CKA.PUBLIC_EXPONENT: b"\x03"})
    expect(CKR.TEMPLATE_INCOMPLETE, CKO.PUBLIC_KEY, CKK.RSA, {CKA.MODULUS: b(n.n)})


def test_rsa_private_full_and_minimal(rsa_key):
    p = rsa_key.private_numbers()
    full = {CKA.MODULUS: b(p.public_numbers.n), CKA.PUBLIC_EXPONENT: b(p.public_numbers.e),
            CKA.PRIVATE_EXPONENT: b(p.d), CKA.PRIME_1: b(p.p), CKA.PRIME_2: b(p.q),
            CKA.EXPONENT_1: b(p.dmp1), CKA.EXPONENT_2: b(p.dmq1), CKA.COEFFICIENT: b(p.iqmp)}
    assert normalize_key_attrs(CKO.PRIVATE_KEY, CKK.RSA, full)[CKA.COEFFICIENT] == b(p.iqmp)
    minimal = {k: full[k] for k in (CKA.MODULUS, CKA.PUBLIC_EXPONENT, CKA.PRIVATE_EXPONENT)}
    out = normalize_key_attrs(CKO.PRIVATE_KEY, CKK.RSA, minimal)
    assert {out[CKA.PRIME_1], out[CKA.PRIME_2]} == {b(p.p), b(p.q)}
    key = load_private({CKA.KEY_TYPE: CKK.RSA, **minimal, **out})
    assert key.public_key().public_numbers() == p.public_numbers
    broken = {**full, CKA.EXPONENT_1: b(p.dmp1 + 2)}
    expect(CKR.ATTRIBUTE_VALUE_INVALID, CKO.PRIVATE_KEY, CKK.RSA, broken)
    expect(CKR.ATTRIBUTE_VALUE_INVALID, CKO.PRIVATE_KEY, CKK.RSA, {**full, CKA.PRIVATE_EXPONENT: b(p.d + 2)})
    no_e = {k: v for k, v in full.items() if k != CKA.PUBLIC_EXPONENT}
    expect(CKR.TEMPLATE_INCOMPLETE, CKO.PRIVATE_KEY, CKK.RSA, no_e)


@pytest.mark.parametrize("length,ok", [(16, True), (24, True), (32, True), (15, False), (0, False), (64, False)])
def test_aes_lengths(length, ok):
    attrs = {CKA.VALUE: bytes(length)}
    if ok:
        assert normalize_key_attrs(CKO.SECRET_KEY, CKK.AES, attrs) == {CKA.VALUE_LEN: length}
    else:
        expect(CKR.ATTRIBUTE_VALUE_INVALID, CKO.SECRET_KEY, CKK.AES, attrs)


def test_secret_value_len_mismatch_and_generic():
    expect(CKR.TEMPLATE_INCONSISTENT, CKO.SECRET_KEY, CKK.AES, {CKA.VALUE: bytes(16), CKA.VALUE_LEN: 32})
    assert normalize_key_attrs(CKO.SECRET_KEY, CKK.GENERIC_SECRET, {CKA.VALUE: b"k" * 7}) == {CKA.VALUE_LEN: 7}
    assert normalize_key_attrs(CKO.SECRET_KEY, CKK.SHA256_HMAC, {CKA.VALUE: b"k" * 40}) == {CKA.VALUE_LEN: 40}
    expect(CKR.TEMPLATE_INCOMPLETE, CKO.SECRET_KEY, CKK.GENERIC_SECRET, {})


def test_unsupported_key_type():
    expect(CKR.ATTRIBUTE_VALUE_INVALID, CKO.SECRET_KEY, CKK.DES3, {CKA.VALUE: bytes(24)})


def test_key_size_units():
    assert key_size({CKA.KEY_TYPE: CKK.EC, CKA.EC_PARAMS: P256}) == 256
    assert key_size({CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: CKK.AES, CKA.VALUE: bytes(24)}) == 24
    assert key_size({CKA.KEY_TYPE: CKK.EC, CKA.EC_PARAMS: b"junk"}) is None
