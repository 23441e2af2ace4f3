"""EC key generation and ECDSA: NIST CAVP SigVer vectors, round-trips, error codes."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import ecparams, registry
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from strongroom.pkcs11.errors import CKRError
from support import KeyStub

P256 = bytes.fromhex("06082a8648ce3d030107")
P384 = bytes.fromhex("06052b81040022")
P521 = bytes.fromhex("06052b81040023")


Key = KeyStub


def gen_pair(params=P256):
    pub_t = {CKA.EC_PARAMS: params}
    pub, priv = registry.get(CKM.EC_KEY_PAIR_GEN).generate_pair(None, pub_t, {})
    pub = {**pub_t, **pub}
    return Key(pub), Key(priv)


def run_sign(mech, key, chunks):
    op = registry.get(mech).operation(OpKind.SIGN, key, None)
    for c in chunks:
        op.update(c)
    return op.final()


def run_verify(mech, key, chunks, sig):
    op = registry.get(mech).operation(OpKind.VERIFY, key, None)
    for c in chunks:
        op.update(c)
    op.verify(sig)


def pub_key(curve_oid, qx: int, qy: int, width: int) -> Key:
    point = b"\x04" + qx.to_bytes(width, "big") + qy.to_bytes(width, "big")
    return Key({CKA.CLASS: CKO.PUBLIC_KEY, CKA.KEY_TYPE: CKK.EC, CKA.EC_PARAMS: curve_oid,
                CKA.EC_POINT: ecparams.encode_point(point)})


# --- NIST CAVP FIPS 186-3 SigVer -------------------------------------------------------

def _sigver(section: str):
    import cryptography_vectors
    path = Path(cryptography_vectors.__file__).parent / "asymmetric/ECDSA/FIPS_186-3/SigVer.rsp"
    out, current, rec = [], None, {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            current = line[1:-1]
        elif "=" in line and current == section:
            k, v = (s.strip() for s in line.split("=", 1))
            rec[k] = v
            if k == "Result":
                out.append(rec)
                rec = {}
    return out


SIGVER_256 = _sigver("P-256,SHA-256")
SIGVER_256_512 = _sigver("P-256,SHA-512")
SIGVER_521_512 = _sigver("P-521,SHA-512")


def _check_vector(v, curve_oid, width, mech, hash_name):
    key = pub_key(curve_oid, int(v["Qx"], 16), int(v["Qy"], 16), width)
    sig = int(v["R"], 16).to_bytes(width, "big") + int(v["S"], 16).to_bytes(width, "big")
    msg = bytes.fromhex(v["Msg"])
    good = v["Result"].startswith("P")
    try:
        if mech == CKM.ECDSA:
            run_verify(mech, key, [hashlib.new(hash_name, msg).digest()], sig)
        else:
            run_verify(mech, key, [msg[:7], msg[7:]], sig)
        assert good
    except CKRError as e:
        if e.rv == CKR.ATTRIBUTE_VALUE_INVALID:   # "Q changed" vectors: Q not on the curve
            assert not good
            return
        assert e.rv == CKR.SIGNATURE_INVALID and not good


@pytest.mark.parametrize("v", SIGVER_256, ids=lambda v: v["Result"][:1])
@pytest.mark.parametrize("mech", [CKM.ECDSA_SHA256, CKM.ECDSA])
def test_sigver_p256_sha256(v, mech):
    _check_vector(v, P256, 32, mech, "sha256")


@pytest.mark.parametrize("v", SIGVER_256_512, ids=lambda v: v["Result"][:1])
def test_sigver_p256_raw_sha512_is_truncated(v):
    _check_vector(v, P256, 32, CKM.ECDSA, "sha512")


@pytest.mark.parametrize("v", SIGVER_521_512, ids=lambda v: v["Result"][:1])
def test_sigver_p521_sha512(v):
    _check_vector(v, P521, 66, CKM.ECDSA_SHA512, "sha512")


def test_vectors_loaded():
    assert len(SIGVER_256) >= 15 and any(v["Result"].startswith("P") for v in SIGVER_256)


# --- generation and round trips ---------------------------------------------------------

@pytest.mark.parametrize("params,width", [(P256, 32), (P384, 48), (P521, 66)])
def test_generate_pair_attributes(params, width):
    pub, priv = gen_pair(params)
    point = pub.attrs[CKA.EC_POINT]
    assert point[0] == 0x04 and point[-(2 * width + 1)] == 0x04      # DER OCTET STRING, uncompressed
    assert len(ecparams.der_parse_tlv(point)[1]) == 2 * width + 1
    assert priv.attrs[CKA.EC_PARAMS] == params
    assert len(priv.attrs[CKA.VALUE]) == width
    assert priv.attrs[CKA.CLASS] == CKO.PRIVATE_KEY and pub.attrs[CKA.KEY_TYPE] == CKK.EC
    assert pub.attrs[CKA.PUBLIC_KEY_INFO] == priv.attrs[CKA.PUBLIC_KEY_INFO]
    assert pub.attrs[CKA.PUBLIC_KEY_INFO].endswith(ecparams.der_parse_tlv(point)[1])


def test_generate_requires_params():
    with pytest.raises(CKRError) as e:
        registry.get(CKM.EC_KEY_PAIR_GEN).generate_pair(None, {}, {})
    assert e.value.rv == CKR.TEMPLATE_INCOMPLETE


def test_generate_unknown_curve():
    secp224r1 = bytes.fromhex("06052b81040021")
    ed25519 = bytes.fromhex("06032b6570")      # an Edwards curve is not a CKK_EC curve
    for params in (secp224r1, ed25519):
        with pytest.raises(CKRError) as e:
            registry.get(CKM.EC_KEY_PAIR_GEN).generate_pair(None, {CKA.EC_PARAMS: params}, {})
        assert e.value.rv == CKR.CURVE_NOT_SUPPORTED
    assert e.value.rv == CKR.CURVE_NOT_SUPPORTED
    with pytest.raises(CKRError) as e:
        registry.get(CKM.EC_KEY_PAIR_GEN).generate_pair(None, {CKA.EC_PARAMS: b"\x06\x05\x2b"}, {})
    assert e.value.rv == CKR.ATTRIBUTE_VALUE_INVALID


def test_generate_inconsistent_private_params():
    with pytest.raises(CKRError) as e:
        registry.get(CKM.EC_KEY_PAIR_GEN).generate_pair(None, {CKA.EC_PARAMS: P256}, {CKA.EC_PARAMS: P384})
    assert e.value.rv == CKR.TEMPLATE_INCONSISTENT


def test_printable_curve_name_accepted():
    _pub, priv = gen_pair(b"\x13\x0aprime256v1")
    assert len(priv.attrs[CKA.VALUE]) == 32


@pytest.mark.parametrize("params,width", [(P256, 32), (P384, 48), (P521, 66)])
def test_raw_ecdsa_round_trip_and_fixed_width(params, width):
    pub, priv = gen_pair(params)
    digest = os.urandom(32)
    sig = run_sign(CKM.ECDSA, priv, [digest])
    assert len(sig) == 2 * width
    run_verify(CKM.ECDSA, pub, [digest], sig)
    # a DER signature is refused by length, not parsed
    with pytest.raises(CKRError) as e:
        run_verify(CKM.ECDSA, pub, [digest], sig[:-1])
    assert e.value.rv == CKR.SIGNATURE_LEN_RANGE
    bad = bytes([sig[0] ^ 1]) + sig[1:]
    with pytest.raises(CKRError) as e:
        run_verify(CKM.ECDSA, pub, [digest], bad)
    assert e.value.rv == CKR.SIGNATURE_INVALID


@pytest.mark.parametrize("length", [1, 10, 20, 31, 33, 65, 66, 100])
def test_raw_ecdsa_any_input_length_follows_x962_truncation(length):
    """Cross-check against pyca with an equivalent standard-length hash."""
    pub, priv = gen_pair(P521)
    key = pub.parsed(lambda a: ecparams.decode_point(ecparams.curve_from_params(a[CKA.EC_PARAMS]), a[CKA.EC_POINT]))
    x = int.from_bytes(os.urandom(min(length, 64)), "big")   # the integer e we expect
    if length <= 65:
        data = x.to_bytes(length, "big") if x.bit_length() <= 8 * length else None
    else:    # 66+ bytes: leftmost 521 bits are used, i.e. the first 66 bytes >> 7
        data = (x << 7).to_bytes(66, "big") + os.urandom(length - 66)
    sig = run_sign(CKM.ECDSA, priv, [data])
    r, s = int.from_bytes(sig[:66], "big"), int.from_bytes(sig[66:], "big")
    key.verify(encode_dss_signature(r, s), x.to_bytes(64, "big"), ec.ECDSA(Prehashed(hashes.SHA512())))


def test_raw_ecdsa_p256_short_input_equals_left_padded():
    pub, priv = gen_pair(P256)
    short = os.urandom(20)
    sig = run_sign(CKM.ECDSA, priv, [short])
    run_verify(CKM.ECDSA, pub, [bytes(12) + short], sig)


def test_raw_ecdsa_is_single_part_and_refuses_empty():
    _pub, priv = gen_pair()
    op = registry.get(CKM.ECDSA).operation(OpKind.SIGN, priv, None)
    assert op.multipart is False
    with pytest.raises(CKRError) as e:
        run_sign(CKM.ECDSA, priv, [b""])
    assert e.value.rv == CKR.DATA_LEN_RANGE


@pytest.mark.parametrize("chunks", [[b""], [b"a"], [b"", b"abc", b"", b"d" * 77, b"e"]])
@pytest.mark.parametrize("mech,hname", [(CKM.ECDSA_SHA256, "sha256"), (CKM.ECDSA_SHA384, "sha384"),
                                        (CKM.ECDSA_SHA1, "sha1"), (CKM.ECDSA_SHA512, "sha512")])
def test_hash_ecdsa_multipart_matches_raw(chunks, mech, hname):
    pub, priv = gen_pair(P384)
    assert registry.get(mech).operation(OpKind.SIGN, priv, None).multipart
    sig = run_sign(mech, priv, chunks)
    run_verify(mech, pub, [b"".join(chunks)], sig)
    run_verify(CKM.ECDSA, pub, [hashlib.new(hname, b"".join(chunks)).digest()], sig)


def test_verify_with_wrong_message():
    pub, priv = gen_pair()
    sig = run_sign(CKM.ECDSA_SHA256, priv, [b"message"])
    with pytest.raises(CKRError) as e:
        run_verify(CKM.ECDSA_SHA256, pub, [b"messagE"], sig)
    assert e.value.rv == CKR.SIGNATURE_INVALID


def test_ecdsa_cannot_encrypt():
    pub, _priv = gen_pair()
    with pytest.raises(CKRError) as e:
        registry.get(CKM.ECDSA).operation(OpKind.ENCRYPT, pub, None)
    assert e.value.rv == CKR.MECHANISM_INVALID
