"""CKM_ECDH1_DERIVE / CKM_ECDH1_COFACTOR_DERIVE: NIST KAS ZZ-only vectors (P-256/384/521),
RFC 7027 brainpool, RFC 7748 X25519/X448, ANSI X9.63 KDF vectors, lengths and errors."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import strongroom.mechanisms  # noqa: F401
from asym_kat import Key, rsp_records, rv_of
from strongroom.mechanisms import ecdh, ecparams
from strongroom.pkcs11.constants import CKA, CKD, CKK, CKO, CKR
from strongroom.pkcs11.params import EcdhParams

KAS_CURVES = {"EC": "secp256r1", "ED": "secp384r1", "EE": "secp521r1"}


def curve(name):
    return next(c for c in ecparams.CURVES if c.name == name)


def ec_priv(c, d_hex):
    return Key({CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.EC, CKA.EC_PARAMS: c.oid_der,
                CKA.VALUE: int(d_hex, 16).to_bytes(c.field_bytes, "big")})


def raw_point(c, x, y):
    return b"\x04" + int(x, 16).to_bytes(c.field_bytes, "big") + int(y, 16).to_bytes(c.field_bytes, "big")


def _kas():
    out = []
    for i, r in enumerate(rsp_records("asymmetric/ECDH/KASValidityTest_ECCStaticUnified_NOKC_ZZOnly_init.fax",
                                      "Result")):
        sect = r["section"].split(" ")[0]
        if sect in KAS_CURVES:
            out.append(pytest.param(r, KAS_CURVES[sect], id=f"{KAS_CURVES[sect]}-{i}"))
    return out


@pytest.mark.parametrize("v,cname", _kas())
def test_kas_zz_only(v, cname):
    c = curve(cname)
    key = ec_priv(c, v["dsIUT"])
    point = raw_point(c, v["QsCAVSx"], v["QsCAVSy"])
    z = bytes.fromhex(v["Z"])
    try:
        out = ecdh.derive(EcdhParams(kdf=CKD.NULL, public_data=point), key, {CKA.KEY_TYPE: CKK.GENERIC_SECRET})
    except Exception as e:       # any error: only failing vectors may fail
        assert not v["Result"].startswith("P"), e
        return
    assert (out[CKA.VALUE] == z) == v["Result"].startswith("P")
    assert out[CKA.VALUE_LEN] == len(out[CKA.VALUE]) == c.field_bytes


@pytest.mark.parametrize("v", rsp_records("asymmetric/ECDH/brainpool.txt", "y_Z"), ids=lambda v: v["curve"])
def test_brainpool_rfc7027(v):
    c = curve(v["curve"])
    for d, qx, qy in (("dA", "x_qB", "y_qB"), ("dB", "x_qA", "y_qA")):
        point = raw_point(c, v[qx], v[qy])
        for public in (point, ecparams.encode_point(point)):          # raw and DER OCTET STRING
            out = ecdh.derive(EcdhParams(public_data=public), ec_priv(c, v[d]), {})
            assert out[CKA.VALUE] == int(v["x_Z"], 16).to_bytes(c.field_bytes, "big")


@pytest.mark.parametrize("path,oid,length", [
    ("asymmetric/X25519/rfc7748.txt", "06032b656e", 32), ("asymmetric/X448/rfc7748.txt", "06032b656f", 56)])
def test_montgomery_rfc7748(path, oid, length):
    vectors = rsp_records(path, "OUTPUT_U")
    assert vectors
    for v in vectors:
        key = Key({CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.EC_MONTGOMERY, CKA.EC_PARAMS: bytes.fromhex(oid),
                   CKA.VALUE: bytes.fromhex(v["INPUT_SCALAR"])})
        u = bytes.fromhex(v["INPUT_U"])
        for public in (u, bytes([4, length]) + u):
            out = ecdh.derive(EcdhParams(public_data=public), key, {})
            assert out[CKA.VALUE] == bytes.fromhex(v["OUTPUT_U"])


X963_HASH = {"SHA-1": CKD.SHA1_KDF, "SHA-224": CKD.SHA224_KDF, "SHA-256": CKD.SHA256_KDF,
             "SHA-384": CKD.SHA384_KDF, "SHA-512": CKD.SHA512_KDF}


def _x963():
    out = []
    for i, r in enumerate(rsp_records("KDF/ansx963_2001.txt", "key_data")):
        h = r["section"].split(",")[0].strip()
        if h in X963_HASH:
            out.append(pytest.param(r, X963_HASH[h], id=f"{h}-{i}"))
    return out


@pytest.mark.parametrize("v,kdf", _x963())
def test_x963_kdf(v, kdf, monkeypatch):
    """The KDF half of derive: Z from the vector (shared_secret stubbed), SharedInfo, length."""
    z, key_data = bytes.fromhex(v["Z"]), bytes.fromhex(v["key_data"])
    monkeypatch.setattr(ecdh, "shared_secret", lambda private, public: z)
    shared = bytes.fromhex(v.get("SharedInfo", ""))
    key = Key({CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.EC})
    key.parsed = lambda loader: None
    out = ecdh.derive(EcdhParams(kdf=kdf, shared_data=shared, public_data=b"\x04"), key,
                      {CKA.VALUE_LEN: len(key_data)})
    assert out[CKA.VALUE] == key_data


@pytest.fixture(scope="module")
def p256():
    c = curve("secp256r1")
    mine, peer = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    key = ec_priv(c, format(mine.private_numbers().private_value, "x"))
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    point = peer.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    compressed = peer.public_key().public_bytes(Encoding.X962, PublicFormat.CompressedPoint)
    return key, point, compressed, peer.exchange(ec.ECDH(), mine.public_key())


def test_lengths_and_forms(p256):
    key, point, compressed, z = p256
    for public in (point, compressed, ecparams.encode_point(compressed)):
        assert ecdh.derive(EcdhParams(public_data=public), key, {})[CKA.VALUE] == z
    out = ecdh.derive(EcdhParams(public_data=point), key, {CKA.VALUE_LEN: 16, CKA.KEY_TYPE: CKK.AES})
    assert out == {CKA.VALUE: z[-16:], CKA.VALUE_LEN: 16}
    assert ecdh.derive(EcdhParams(public_data=point), key, {CKA.KEY_TYPE: CKK.AES})[CKA.VALUE] == z
    long = ecdh.derive(EcdhParams(kdf=CKD.SHA256_KDF, public_data=point), key, {CKA.VALUE_LEN: 100})
    assert len(long[CKA.VALUE]) == 100
    sha3 = ecdh.derive(EcdhParams(kdf=CKD.SHA3_256_KDF, public_data=point), key, {})
    assert len(sha3[CKA.VALUE]) == 32


@pytest.mark.parametrize("param,attrs,rv", [
    (EcdhParams(kdf=CKD.NULL, shared_data=b"x", public_data=b"P"), {}, CKR.MECHANISM_PARAM_INVALID),
    (EcdhParams(kdf=CKD.SHA1_KDF_SP800, public_data=b"P"), {}, CKR.MECHANISM_PARAM_INVALID),
    (EcdhParams(kdf=0x999, public_data=b"P"), {}, CKR.MECHANISM_PARAM_INVALID),
    (EcdhParams(public_data=b""), {}, CKR.MECHANISM_PARAM_INVALID),
    (EcdhParams(public_data=b"\x04" + b"\x01" * 64), {}, CKR.MECHANISM_PARAM_INVALID),    # off the curve
    (EcdhParams(public_data=b"P"), {CKA.VALUE_LEN: 33}, CKR.TEMPLATE_INCONSISTENT),       # longer than Z
    (EcdhParams(public_data=b"P"), {CKA.VALUE_LEN: 0}, CKR.ATTRIBUTE_VALUE_INVALID),
    (EcdhParams(public_data=b"P"), {CKA.VALUE_LEN: 20, CKA.KEY_TYPE: CKK.AES}, CKR.TEMPLATE_INCONSISTENT),
    (b"raw bytes", {}, CKR.MECHANISM_PARAM_INVALID),
])
def test_errors(p256, param, attrs, rv):
    key, point, _, _ = p256
    if isinstance(param, EcdhParams) and param.public_data == b"P":
        param = EcdhParams(kdf=param.kdf, shared_data=param.shared_data, public_data=point)
    assert rv_of(ecdh.derive, param, key, attrs) == rv


def test_x25519_small_order_point():
    key = Key({CKA.CLASS: CKO.PRIVATE_KEY, CKA.KEY_TYPE: CKK.EC_MONTGOMERY,
               CKA.EC_PARAMS: bytes.fromhex("06032b656e"), CKA.VALUE: b"\x11" * 32})
    assert rv_of(ecdh.derive, EcdhParams(public_data=b"\0" * 32), key, {}) == CKR.MECHANISM_PARAM_INVALID
    assert rv_of(ecdh.derive, EcdhParams(public_data=b"\1" * 31), key, {}) == CKR.MECHANISM_PARAM_INVALID
