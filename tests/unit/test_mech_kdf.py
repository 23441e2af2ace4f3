"""HKDF (RFC 5869 vectors; extract-only, expand-only, salt types), PBKDF2 (RFC 6070) as
C_GenerateKey, SHA*_KEY_DERIVATION and HKDF key generation."""
from __future__ import annotations

import hashlib

import pytest

import strongroom.mechanisms  # noqa: F401
from strongroom.mechanisms import registry
from strongroom.pkcs11 import params as P
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR
from strongroom.pkcs11.constants import HkdfSaltFlag as S
from strongroom.pkcs11.constants import MechanismFlag as F
from strongroom.pkcs11.errors import CKRError
from strongroom.pkcs11.params import HkdfParams, Pbkdf2Params
from sym_kat import Key, records

HASH = {"SHA-1": CKM.SHA_1, "SHA-256": CKM.SHA256}
HKDF = [pytest.param(r, id=f"{r['Hash']}-{r['COUNT']}")
        for f in ("KDF/rfc-5869-HKDF-SHA1.txt", "KDF/rfc-5869-HKDF-SHA256.txt") for r in records(f)]


def expect(rv, fn, *a):
    with pytest.raises(CKRError) as e:
        fn(*a)
    assert e.value.rv == rv


def derive(mech, param, base, attrs):
    return registry.get(mech).derive(param, base, attrs)


def secret(n=None, kt=CKK.GENERIC_SECRET):
    a = {CKA.CLASS: CKO.SECRET_KEY, CKA.KEY_TYPE: kt}
    if n is not None:
        a[CKA.VALUE_LEN] = n
    return a


@pytest.mark.parametrize("r", HKDF)
def test_hkdf_rfc5869(r):
    ikm, salt, info = (bytes.fromhex(r[k]) for k in ("IKM", "salt", "info"))
    okm, prk, n, h = bytes.fromhex(r["OKM"]), bytes.fromhex(r["PRK"]), int(r["L"]), HASH[r["Hash"]]
    base = Key(ikm, CKK.HKDF)
    st = S.DATA if salt else S.NULL
    p = HkdfParams(extract=True, expand=True, prf_hash_mechanism=h, salt_type=st, salt=salt, info=info)
    assert derive(CKM.HKDF_DERIVE, p, base, secret(n))[CKA.VALUE] == okm
    # extract only -> PRK; expand only from the PRK -> OKM
    pe = HkdfParams(extract=True, expand=False, prf_hash_mechanism=h, salt_type=st, salt=salt)
    assert derive(CKM.HKDF_DERIVE, pe, base, secret())[CKA.VALUE] == prk
    px = HkdfParams(extract=False, expand=True, prf_hash_mechanism=h, info=info)
    assert derive(CKM.HKDF_DERIVE, px, Key(prk, CKK.GENERIC_SECRET), secret(n))[CKA.VALUE] == okm
    # CKM_HKDF_DATA: a data object gets CKA_VALUE only
    data = derive(CKM.HKDF_DATA, p, base, {CKA.CLASS: CKO.DATA, CKA.VALUE_LEN: n})
    assert data == {CKA.VALUE: okm}


def test_hkdf_salt_key_and_aes_output():
    base = Key(b"\x0b" * 22, CKK.GENERIC_SECRET)
    salt_value = bytes(range(13))
    p = HkdfParams(True, True, CKM.SHA256, salt_type=S.KEY, salt_key=7, salt=salt_value, info=b"x")
    out = derive(CKM.HKDF_DERIVE, p, base, secret(32, CKK.AES))
    assert out[CKA.VALUE_LEN] == 32 and len(out[CKA.CHECK_VALUE]) == 3
    expect(CKR.TEMPLATE_INCOMPLETE, derive, CKM.HKDF_DERIVE, p, base, secret(None, CKK.AES))
    expect(CKR.ATTRIBUTE_VALUE_INVALID, derive, CKM.HKDF_DERIVE, p, base, secret(20, CKK.AES))


@pytest.mark.parametrize("p", [
    HkdfParams(False, False, CKM.SHA256),
    HkdfParams(True, True, CKM.MD5),
    HkdfParams(True, True, CKM.SHA256, salt_type=S.DATA, salt=b""),
    HkdfParams(True, True, CKM.SHA256, salt_type=0x8),
    None,
])
def test_hkdf_bad_params(p):
    expect(CKR.MECHANISM_PARAM_INVALID, derive, CKM.HKDF_DERIVE, p, Key(b"k" * 16, CKK.HKDF), secret(16))


def test_hkdf_too_long():
    p = HkdfParams(True, True, CKM.SHA_1)
    expect(CKR.ATTRIBUTE_VALUE_INVALID, derive, CKM.HKDF_DERIVE, p, Key(b"k" * 16, CKK.HKDF),
           secret(255 * 20 + 1))


def test_hkdf_key_gen():
    e = registry.get(CKM.HKDF_KEY_GEN)
    out = e.generate(None, {CKA.VALUE_LEN: 32})
    assert out[CKA.KEY_TYPE] == CKK.HKDF and len(out[CKA.VALUE]) == 32 and e.gen_key_type == CKK.HKDF
    assert registry.get(CKM.HKDF_DERIVE).flags == F.DERIVE


PBKDF2 = [pytest.param(r, id=f"pbkdf2-{r['COUNT']}") for r in records("KDF/rfc-6070-PBKDF2-SHA1.txt")
          if int(r["ITERATIONS"]) <= 4096]


@pytest.mark.parametrize("r", PBKDF2)
def test_pbkdf2_rfc6070(r):
    pw, salt = r["PASSWORD"].encode(), r["SALT"].encode()
    if r["PASSWORD"].startswith("pass\\0"):      # the file spells the NUL bytes as \0
        pw, salt = pw.replace(b"\\0", b"\0"), salt.replace(b"\\0", b"\0")
    p = Pbkdf2Params(P.CKZ_SALT_SPECIFIED, salt, int(r["ITERATIONS"]), P.CKP_PKCS5_PBKD2_HMAC_SHA1, pw)
    n = int(r["LENGTH"])
    out = registry.get(CKM.PKCS5_PBKD2).generate(p, secret(n))
    assert out[CKA.VALUE] == bytes.fromhex(r["DERIVED_KEY"]) and out[CKA.VALUE_LEN] == n


@pytest.mark.parametrize("prf,name", [(P.CKP_PKCS5_PBKD2_HMAC_SHA256, "sha256"),
                                      (P.CKP_PKCS5_PBKD2_HMAC_SHA512, "sha512")])
def test_pbkdf2_sha2_aes_key(prf, name):
    p = Pbkdf2Params(P.CKZ_SALT_SPECIFIED, b"salty", 1000, prf, b"hunter2")
    out = registry.get(CKM.PKCS5_PBKD2).generate(p, secret(32, CKK.AES))
    assert out[CKA.VALUE] == hashlib.pbkdf2_hmac(name, b"hunter2", b"salty", 1000, 32)
    assert len(out[CKA.CHECK_VALUE]) == 3


@pytest.mark.parametrize("p", [
    Pbkdf2Params(2, b"s", 1, P.CKP_PKCS5_PBKD2_HMAC_SHA1, b"pw"),
    Pbkdf2Params(P.CKZ_SALT_SPECIFIED, b"s", 0, P.CKP_PKCS5_PBKD2_HMAC_SHA1, b"pw"),
    Pbkdf2Params(P.CKZ_SALT_SPECIFIED, b"s", 1, P.CKP_PKCS5_PBKD2_HMAC_GOSTR3411, b"pw"),
    Pbkdf2Params(P.CKZ_SALT_SPECIFIED, b"s", 1, P.CKP_PKCS5_PBKD2_HMAC_SHA1, b"pw", prf_data=b"x"),
])
def test_pbkdf2_bad_params(p):
    expect(CKR.MECHANISM_PARAM_INVALID, registry.get(CKM.PKCS5_PBKD2).generate, p, secret(16))


@pytest.mark.parametrize("mech,name", [(CKM.SHA1_KEY_DERIVATION, "sha1"), (CKM.SHA256_KEY_DERIVATION, "sha256"),
                                       (CKM.SHA512_KEY_DERIVATION, "sha512"),
                                       (CKM.SHA3_256_KEY_DERIVATION, "sha3_256")])
def test_digest_key_derivation(mech, name):
    base = Key(b"base key value", CKK.GENERIC_SECRET)
    d = hashlib.new(name, b"base key value").digest()
    assert derive(mech, None, base, secret())[CKA.VALUE] == d
    assert derive(mech, None, base, secret(16, CKK.AES))[CKA.VALUE] == d[:16]
    expect(CKR.TEMPLATE_INCONSISTENT, derive, mech, None, base, secret(len(d) + 1))
