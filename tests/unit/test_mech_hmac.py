"""HMAC (RFC 2202 / RFC 4231 vectors, SHA-3 against pyca), HMAC_GENERAL lengths,
constant-time verify, key types and key generation."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, hmac

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import registry
from strongroom.mechanisms.hmac import FAMILIES
from strongroom.mechanisms.registry import OpKind
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from strongroom.pkcs11.constants import MechanismFlag as F
from strongroom.pkcs11.errors import CKRError
from sym_kat import Key, chunks, records, run

RFC = {CKM.SHA_1_HMAC: "HMAC/rfc-2202-sha1.txt", CKM.SHA224_HMAC: "HMAC/rfc-4231-sha224.txt",
       CKM.SHA256_HMAC: "HMAC/rfc-4231-sha256.txt", CKM.SHA384_HMAC: "HMAC/rfc-4231-sha384.txt",
       CKM.SHA512_HMAC: "HMAC/rfc-4231-sha512.txt"}
GENERAL = {f[0]: f[1] for f in FAMILIES}
CASES = [pytest.param(m, r, id=f"{CKM(m).name}-{i}")
         for m, p in RFC.items() for i, r in enumerate(records(p, start="Len"))]


def expect(rv, fn, *a):
    with pytest.raises(CKRError) as e:
        fn(*a)
    assert e.value.rv == rv


def verify(mech, key, param, parts, sig):
    op = registry.get(mech).operation(OpKind.VERIFY, key, param)
    for p in parts:
        op.update(p)
    op.verify(sig)


@pytest.mark.parametrize("mech,r", CASES)
def test_hmac_rfc(mech, r):
    key = Key(bytes.fromhex(r["Key"]), CKK.GENERIC_SECRET)
    msg, md = bytes.fromhex(r["Msg"]), bytes.fromhex(r["MD"])
    full = run(mech, OpKind.SIGN, key, None, [msg])
    if len(md) < len(full):    # RFC 4231 case 5 gives a 128-bit truncation
        assert run(GENERAL[mech], OpKind.SIGN, key, len(md), chunks(msg, 1)) == md
        verify(GENERAL[mech], key, len(md), [msg], md)
    else:
        assert full == md
        assert run(mech, OpKind.SIGN, key, None, chunks(msg, 0)) == md
        verify(mech, key, None, chunks(msg, 7), md)


@pytest.mark.parametrize("fam", FAMILIES, ids=lambda f: CKM(f[0]).name)
def test_every_hash_matches_pyca(fam):
    mech, general, _, kt, alg = fam
    value, msg = bytes(range(37)), b"strongroom" * 20
    h = hmac.HMAC(value, alg())
    h.update(msg)
    want = h.finalize()
    for key_type in (CKK.GENERIC_SECRET, kt):
        key = Key(value, key_type)
        assert run(mech, OpKind.SIGN, key, None, chunks(msg, 13)) == want
        assert run(general, OpKind.SIGN, key, 10, [msg]) == want[:10]
    e = registry.get(mech)
    assert e.key_types == frozenset({CKK.GENERIC_SECRET, kt}) and e.flags == F.SIGN | F.VERIFY
    assert registry.get(general).param_type is int


def test_verify_failures():
    key = Key(b"k" * 32, CKK.SHA256_HMAC)
    sig = run(CKM.SHA256_HMAC, OpKind.SIGN, key, None, [b"msg"])
    expect(CKR.SIGNATURE_INVALID, verify, CKM.SHA256_HMAC, key, None, [b"msh"], sig)
    bad = bytes([sig[0] ^ 1]) + sig[1:]
    expect(CKR.SIGNATURE_INVALID, verify, CKM.SHA256_HMAC, key, None, [b"msg"], bad)
    expect(CKR.SIGNATURE_LEN_RANGE, verify, CKM.SHA256_HMAC, key, None, [b"msg"], sig[:-1])
    expect(CKR.SIGNATURE_LEN_RANGE, verify, CKM.SHA256_HMAC_GENERAL, key, 16, [b"msg"], sig)
    verify(CKM.SHA256_HMAC_GENERAL, key, 16, [b"msg"], sig[:16])


@pytest.mark.parametrize("param", [0, 33, -1, None, b"\x10", True])
def test_general_length_range(param):
    key = Key(b"k" * 32, CKK.GENERIC_SECRET)
    expect(CKR.MECHANISM_PARAM_INVALID, registry.get(CKM.SHA256_HMAC_GENERAL).operation,
           OpKind.SIGN, key, param)


def test_wrong_kind():
    expect(CKR.MECHANISM_INVALID, registry.get(CKM.SHA256_HMAC).operation, OpKind.ENCRYPT,
           Key(b"k", CKK.GENERIC_SECRET), None)


@pytest.mark.parametrize("mech,kt", [(CKM.GENERIC_SECRET_KEY_GEN, CKK.GENERIC_SECRET),
                                     (CKM.SHA256_KEY_GEN, CKK.SHA256_HMAC),
                                     (CKM.SHA3_512_KEY_GEN, CKK.SHA3_512_HMAC)])
def test_keygen(mech, kt):
    e = registry.get(mech)
    assert e.gen_key_type == kt and e.flags == F.GENERATE
    out = e.generate(None, {CKA.VALUE_LEN: 48})
    assert out[CKA.KEY_TYPE] == kt and out[CKA.CLASS] == CKO.SECRET_KEY and len(out[CKA.VALUE]) == 48
    h = hashes.Hash(hashes.SHA1())
    h.update(out[CKA.VALUE])
    assert out[CKA.CHECK_VALUE] == h.finalize()[:3]
    expect(CKR.TEMPLATE_INCOMPLETE, e.generate, None, {})
    expect(CKR.ATTRIBUTE_VALUE_INVALID, e.generate, None, {CKA.VALUE_LEN: 0})
