"""One operation per mechanism family with its parameter struct, built in C memory and
checked against pyca/cryptography or hashlib -- each twice (conftest ``c``): in-process,
and through the client module to a token service, where the struct crosses the wire by
the pkcs11/param_layouts rows. Families covered elsewhere both ways: AES wrap, ECDH, RSA
recover, message-based GCM, ML-KEM (test_keyops.py); RSA PKCS/PSS/OAEP, ECDSA, AES modes,
HMAC, CMAC, digests, ML-DSA keys (tests/integration through python-pkcs11)."""
from __future__ import annotations

import hashlib
import os

from ck_support import READABLE, Template
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR, MLDSAParameterSet

ED25519_OID = bytes.fromhex("06032b6570")          # id-Ed25519 as CKA_EC_PARAMS
ED448_OID = bytes.fromhex("06032b6571")
CKF_HKDF_SALT_DATA = 0x2
CKZ_SALT_SPECIFIED = 0x1
CKP_PKCS5_PBKD2_HMAC_SHA256 = 0x4


def _keypair(c, mech: int, public: list, private: list) -> tuple[int, int]:
    pub_t, priv_t = Template(c.ffi, public), Template(c.ffi, private)
    pub, priv = c.ffi.new("CK_OBJECT_HANDLE *"), c.ffi.new("CK_OBJECT_HANDLE *")
    rv = c.fl.C_GenerateKeyPair(c.h, c.mech(mech), pub_t.arr, pub_t.count, priv_t.arr, priv_t.count, pub, priv)
    assert rv == CKR.OK, hex(rv)
    return pub[0], priv[0]


def _sign(c, mech, key: int, data: bytes) -> tuple[int, bytes]:
    rv = c.fl.C_SignInit(c.h, mech, key)
    if rv != CKR.OK:
        return rv, b""
    n = c.ffi.new("CK_ULONG *", 8192)
    out = c.ffi.new("char[8192]")
    rv = c.fl.C_Sign(c.h, data, len(data), out, n)
    return rv, bytes(c.ffi.buffer(out, n[0])) if rv == CKR.OK else b""


def _verify(c, mech, key: int, data: bytes, sig: bytes) -> int:
    assert c.fl.C_VerifyInit(c.h, mech, key) == CKR.OK
    return int(c.fl.C_Verify(c.h, data, len(data), sig, len(sig)))


def _eddsa(c, ph: bool, context: bytes, keep: list):
    """CKM_EDDSA with CK_EDDSA_PARAMS; the C buffers stay alive in ``keep``."""
    ctx = c.ffi.new("char[]", max(len(context), 1))
    c.ffi.memmove(ctx, context, len(context))
    p = c.ffi.new("CK_EDDSA_PARAMS *", {"phFlag": ph, "ulContextDataLen": len(context),
                                         "pContextData": ctx if context else c.ffi.NULL})
    keep += [p, ctx]
    return c.mech(CKM.EDDSA, p)


def test_eddsa_with_and_without_its_parameter(c) -> None:
    """CKM_EDDSA's parameter is optional and its presence selects the scheme (v3.0
    §2.3.14; mechanisms/eddsa.py): Ed25519 signs without one (pure, pyca verifies) and
    refuses CK_EDDSA_PARAMS (Ed25519ctx/ph are not in pyca); Ed448 needs one."""
    data, keep = b"device attestation", []
    pub, priv = _keypair(c, CKM.EC_EDWARDS_KEY_PAIR_GEN, [(CKA.EC_PARAMS, ED25519_OID), (CKA.VERIFY, True)],
                         [(CKA.SIGN, True)])
    rv, pure = _sign(c, c.mech(CKM.EDDSA), priv, data)
    assert rv == CKR.OK and len(pure) == 64
    Ed25519PublicKey.from_public_bytes(_point(c.get(pub, CKA.EC_POINT))).verify(pure, data)
    assert _verify(c, c.mech(CKM.EDDSA), pub, data, pure) == CKR.OK
    assert _sign(c, _eddsa(c, False, b"", keep), priv, data)[0] == CKR.MECHANISM_PARAM_INVALID
    pub, priv = _keypair(c, CKM.EC_EDWARDS_KEY_PAIR_GEN, [(CKA.EC_PARAMS, ED448_OID), (CKA.VERIFY, True)],
                         [(CKA.SIGN, True)])
    rv, sig = _sign(c, _eddsa(c, False, b"", keep), priv, data)
    assert rv == CKR.OK and len(sig) == 114
    Ed448PublicKey.from_public_bytes(_point(c.get(pub, CKA.EC_POINT))).verify(sig, data)
    assert _sign(c, c.mech(CKM.EDDSA), priv, data)[0] == CKR.MECHANISM_PARAM_INVALID


def _point(ec_point: bytes) -> bytes:
    """CKA_EC_POINT of an Edwards key: a DER OCTET STRING around the raw key."""
    assert ec_point[0] == 0x04 and ec_point[1] == len(ec_point) - 2
    return ec_point[2:]


def test_ml_dsa_without_and_with_a_context(c) -> None:
    pub, priv = _keypair(c, CKM.ML_DSA_KEY_PAIR_GEN, [(CKA.PARAMETER_SET, MLDSAParameterSet.ML_DSA_44),
                                                       (CKA.VERIFY, True)], [(CKA.SIGN, True)])
    data = b"post-quantum"
    rv, plain = _sign(c, c.mech(CKM.ML_DSA), priv, data)           # no parameter: empty context
    assert rv == CKR.OK and len(plain) == 2420
    assert _verify(c, c.mech(CKM.ML_DSA), pub, data, plain) == CKR.OK
    ctx = c.ffi.new("char[]", b"app")
    p = c.ffi.new("CK_SIGN_ADDITIONAL_CONTEXT *", {"hedgeVariant": 0, "pContext": ctx, "ulContextLen": 3})
    rv, sig = _sign(c, c.mech(CKM.ML_DSA, p), priv, data)
    assert rv == CKR.OK
    assert _verify(c, c.mech(CKM.ML_DSA, p), pub, data, sig) == CKR.OK
    assert _verify(c, c.mech(CKM.ML_DSA), pub, data, sig) == CKR.SIGNATURE_INVALID


def test_chacha20_poly1305_matches_pyca(c) -> None:
    value, nonce, aad, data = os.urandom(32), os.urandom(12), b"header", b"secret telemetry"
    key = c.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.CHACHA20), (CKA.VALUE, value),
                    (CKA.ENCRYPT, True), (CKA.DECRYPT, True)])
    nbuf, abuf = c.ffi.new("char[]", nonce), c.ffi.new("char[]", aad)
    p = c.ffi.new("CK_SALSA20_CHACHA20_POLY1305_PARAMS *", {"pNonce": nbuf, "ulNonceLen": 12, "pAAD": abuf,
                                                             "ulAADLen": len(aad)})
    assert c.fl.C_EncryptInit(c.h, c.mech(CKM.CHACHA20_POLY1305, p), key) == CKR.OK
    out, n = c.ffi.new("char[64]"), c.ffi.new("CK_ULONG *", 64)
    assert c.fl.C_Encrypt(c.h, data, len(data), out, n) == CKR.OK
    sealed = bytes(c.ffi.buffer(out, n[0]))
    assert sealed == ChaCha20Poly1305(value).encrypt(nonce, data, aad)
    assert c.fl.C_DecryptInit(c.h, c.mech(CKM.CHACHA20_POLY1305, p), key) == CKR.OK
    n[0] = 64
    assert c.fl.C_Decrypt(c.h, sealed, len(sealed), out, n) == CKR.OK
    assert bytes(c.ffi.buffer(out, n[0])) == data


def test_hkdf_derive_matches_pyca(c) -> None:
    ikm, salt, info = os.urandom(32), b"salt-value", b"device key v1"
    base = c.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET), (CKA.VALUE, ikm),
                     (CKA.DERIVE, True)])
    sbuf, ibuf = c.ffi.new("char[]", salt), c.ffi.new("char[]", info)
    p = c.ffi.new("CK_HKDF_PARAMS *", {"bExtract": True, "bExpand": True, "prfHashMechanism": CKM.SHA256,
                                       "ulSaltType": CKF_HKDF_SALT_DATA, "pSalt": sbuf, "ulSaltLen": len(salt),
                                       "hSaltKey": 0, "pInfo": ibuf, "ulInfoLen": len(info)})
    t = Template(c.ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE_LEN, 32), *READABLE])
    out = c.ffi.new("CK_OBJECT_HANDLE *")
    assert c.fl.C_DeriveKey(c.h, c.mech(CKM.HKDF_DERIVE, p), base, t.arr, t.count, out) == CKR.OK
    assert c.get(out[0], CKA.VALUE) == HKDF(hashes.SHA256(), 32, salt, info).derive(ikm)


def test_pbkdf2_key_generation_matches_hashlib(c) -> None:
    password, salt = b"correct horse", b"pepper-and-salt!"
    sbuf, pbuf = c.ffi.new("char[]", salt), c.ffi.new("char[]", password)
    p = c.ffi.new("CK_PKCS5_PBKD2_PARAMS2 *", {"saltSource": CKZ_SALT_SPECIFIED, "pSaltSourceData": sbuf,
                                               "ulSaltSourceDataLen": len(salt), "iterations": 1000,
                                               "prf": CKP_PKCS5_PBKD2_HMAC_SHA256, "pPrfData": c.ffi.NULL,
                                               "ulPrfDataLen": 0, "pPassword": pbuf,
                                               "ulPasswordLen": len(password)})
    t = Template(c.ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET), (CKA.VALUE_LEN, 24),
                         *READABLE])
    out = c.ffi.new("CK_OBJECT_HANDLE *")
    assert c.fl.C_GenerateKey(c.h, c.mech(CKM.PKCS5_PBKD2, p), t.arr, t.count, out) == CKR.OK
    assert c.get(out[0], CKA.VALUE) == hashlib.pbkdf2_hmac("sha256", password, salt, 1000, 24)


def test_sha3_digest_matches_hashlib(c) -> None:
    data = os.urandom(3000)
    assert c.fl.C_DigestInit(c.h, c.mech(CKM.SHA3_256)) == CKR.OK
    out, n = c.ffi.new("char[32]"), c.ffi.new("CK_ULONG *", 32)
    assert c.fl.C_Digest(c.h, data, len(data), out, n) == CKR.OK
    assert bytes(c.ffi.buffer(out, n[0])) == hashlib.sha3_256(data).digest()
