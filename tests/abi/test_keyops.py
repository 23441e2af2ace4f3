"""Issue 4 functions through the real module: C_WrapKey / C_UnwrapKey, C_DeriveKey,
C_SignRecover / C_VerifyRecover, the message-based API (AES-GCM, tag written back into
the caller's CK_GCM_MESSAGE_PARAMS) and C_EncapsulateKey / C_DecapsulateKey through the
CK_FUNCTION_LIST_3_2 of C_GetInterface("PKCS 11", {3, 2}) -- with ``c`` (conftest) each
test runs twice: in-process, and through the client module to a token service."""
from __future__ import annotations

import hashlib
import os

from ck_support import (
    CKG_GENERATE_RANDOM,
    CKG_NO_GENERATE,
    P256_OID,
    READABLE,
    USER_PIN,
    Ck,
    Template,
    open_user_session,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

from strongroom.pkcs11.attributes import encode
from strongroom.pkcs11.constants import CKA, CKD, CKK, CKM, CKO, CKR, CKU, MLKEMParameterSet


# --- wrap / unwrap ---------------------------------------------------------------------------
def test_wrap_unwrap_round_trip_aes_key_wrap(c):
    kek_value, target_value = os.urandom(32), os.urandom(32)
    kek = c.aes(kek_value, wrap=True, unwrap=True)
    target = c.aes(target_value, extractable=True)
    mech = c.mech(CKM.AES_KEY_WRAP)
    n = c.ffi.new("CK_ULONG *")
    assert c.fl.C_WrapKey(c.h, mech, kek, target, c.ffi.NULL, n) == CKR.OK    # size query
    assert n[0] == 40
    small = c.ffi.new("char[8]")
    n[0] = 8
    assert c.fl.C_WrapKey(c.h, mech, kek, target, small, n) == CKR.BUFFER_TOO_SMALL
    assert n[0] == 40
    rv, wrapped = c.wrap(mech, kek, target)
    assert rv == CKR.OK and len(wrapped) == 40
    assert aes_key_unwrap(kek_value, wrapped) == target_value          # RFC 3394, independently
    rv, new = c.unwrap(mech, kek, wrapped, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), *READABLE])
    assert rv == CKR.OK
    assert c.get(new, CKA.VALUE) == target_value
    assert c.get(new, CKA.VALUE_LEN) == encode(CKA.VALUE_LEN, 32)
    for cka in (CKA.LOCAL, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE):
        assert c.get(new, cka) == b"\x00", cka
    # a corrupted blob is WRAPPED_KEY_INVALID, not a decryption error code
    bad = bytes([wrapped[0] ^ 1]) + wrapped[1:]
    assert c.unwrap(mech, kek, bad, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES)])[0] == \
        CKR.WRAPPED_KEY_INVALID


def test_wrap_unwrap_ec_private_key_pkcs8(c):
    kek = c.aes(wrap=True, unwrap=True)
    mech_gen = c.mech(CKM.EC_KEY_PAIR_GEN)
    pub_t = Template(c.ffi, [(CKA.EC_PARAMS, P256_OID), (CKA.VERIFY, True)])
    priv_t = Template(c.ffi, [(CKA.SIGN, True), (CKA.EXTRACTABLE, True)])
    pub, priv = c.ffi.new("CK_OBJECT_HANDLE *"), c.ffi.new("CK_OBJECT_HANDLE *")
    assert c.fl.C_GenerateKeyPair(c.h, mech_gen, pub_t.arr, pub_t.count, priv_t.arr, priv_t.count,
                                  pub, priv) == CKR.OK
    mech = c.mech(CKM.AES_KEY_WRAP_PAD)
    rv, wrapped = c.wrap(mech, kek, priv[0])
    assert rv == CKR.OK
    rv, new = c.unwrap(mech, kek, wrapped, [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC),
                                            (CKA.SIGN, True)])
    assert rv == CKR.OK
    assert c.get(new, CKA.EC_PARAMS) == P256_OID
    assert c.get(new, CKA.PUBLIC_KEY_INFO, 512) == c.get(pub[0], CKA.PUBLIC_KEY_INFO, 512)
    assert c.get(new, CKA.LOCAL) == b"\x00"


def test_unextractable_key_is_not_wrapped(c):
    kek = c.aes(wrap=True)
    target = c.aes(extractable=False)
    n = c.ffi.new("CK_ULONG *")
    assert c.fl.C_WrapKey(c.h, c.mech(CKM.AES_KEY_WRAP), kek, target, c.ffi.NULL, n) == CKR.KEY_UNEXTRACTABLE


def test_wrapping_key_needs_cka_wrap_and_right_type(c):
    kek = c.aes(wrap=False)
    target = c.aes(extractable=True)
    n = c.ffi.new("CK_ULONG *")
    assert c.fl.C_WrapKey(c.h, c.mech(CKM.AES_KEY_WRAP), kek, target, c.ffi.NULL, n) == \
        CKR.KEY_FUNCTION_NOT_PERMITTED
    assert c.fl.C_WrapKey(c.h, c.mech(CKM.AES_KEY_WRAP), 0xdead, target, c.ffi.NULL, n) == \
        CKR.WRAPPING_KEY_HANDLE_INVALID
    hmac = c.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
                     (CKA.VALUE, os.urandom(32)), (CKA.WRAP, True)])
    assert c.fl.C_WrapKey(c.h, c.mech(CKM.AES_KEY_WRAP), hmac, target, c.ffi.NULL, n) == \
        CKR.WRAPPING_KEY_TYPE_INCONSISTENT


def test_wrap_with_trusted_needs_a_trusted_wrapping_key(ck):
    h = open_user_session(ck, user=False)               # the SO is logged in: only the SO may set CKA_TRUSTED
    c = Ck(ck, h)
    trusted = c.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE, os.urandom(16)),
                        (CKA.WRAP, True), (CKA.TRUSTED, True), (CKA.PRIVATE, False)])
    assert c.fl.C_Logout(h) == CKR.OK
    assert c.fl.C_Login(h, CKU.USER, USER_PIN, len(USER_PIN)) == CKR.OK
    t = Template(c.ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE, os.urandom(16)),
                         (CKA.WRAP, True), (CKA.TRUSTED, True)])
    out = c.ffi.new("CK_OBJECT_HANDLE *")
    assert c.fl.C_CreateObject(h, t.arr, t.count, out) == CKR.ATTRIBUTE_READ_ONLY   # user cannot
    untrusted = c.aes(wrap=True)
    target = c.aes(extractable=True, wrap_with_trusted=True)
    mech = c.mech(CKM.AES_KEY_WRAP)
    assert c.wrap(mech, untrusted, target)[0] == CKR.KEY_NOT_WRAPPABLE
    rv, wrapped = c.wrap(mech, trusted, target)
    assert rv == CKR.OK and len(wrapped) == 40


def test_wrap_template_must_match(c):
    kek = c.aes(wrap=True, wrap_template=((CKA.KEY_TYPE, CKK.AES), (CKA.EXTRACTABLE, True),
                                          (CKA.LABEL, "exportable")))
    good = c.aes(extractable=True, label="exportable")
    other = c.aes(extractable=True, label="something else")
    mech = c.mech(CKM.AES_KEY_WRAP)
    assert c.wrap(mech, kek, good)[0] == CKR.OK
    assert c.wrap(mech, kek, other)[0] == CKR.KEY_NOT_WRAPPABLE


def test_unwrap_template_applied_and_checked(c):
    kek = c.aes(wrap=True, unwrap=True, unwrap_template=((CKA.SENSITIVE, True), (CKA.LABEL, "unwrapped")))
    target = c.aes(extractable=True)
    mech = c.mech(CKM.AES_KEY_WRAP)
    _, wrapped = c.wrap(mech, kek, target)
    base = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES)]
    rv, new = c.unwrap(mech, kek, wrapped, base)
    assert rv == CKR.OK
    assert c.get(new, CKA.LABEL) == b"unwrapped"
    assert c.get(new, CKA.SENSITIVE) == b"\x01"
    assert c.unwrap(mech, kek, wrapped, [*base, (CKA.SENSITIVE, False)])[0] == CKR.TEMPLATE_INCONSISTENT
    # the unwrapping key needs CKA_UNWRAP
    kek2 = c.aes(wrap=True, unwrap=False)
    _, wrapped2 = c.wrap(mech, kek2, target)
    assert c.unwrap(mech, kek2, wrapped2, base)[0] == CKR.KEY_FUNCTION_NOT_PERMITTED


# --- derive ----------------------------------------------------------------------------------
def _p256_pair(c, derive=True):
    pub_t = Template(c.ffi, [(CKA.EC_PARAMS, P256_OID)])
    priv_t = Template(c.ffi, [(CKA.DERIVE, derive), (CKA.DERIVE_TEMPLATE, ((CKA.KEY_TYPE, CKK.AES),))])
    pub, priv = c.ffi.new("CK_OBJECT_HANDLE *"), c.ffi.new("CK_OBJECT_HANDLE *")
    assert c.fl.C_GenerateKeyPair(c.h, c.mech(CKM.EC_KEY_PAIR_GEN), pub_t.arr, pub_t.count,
                                  priv_t.arr, priv_t.count, pub, priv) == CKR.OK
    return pub[0], priv[0]


def _ecdh(c, peer_point):
    buf = c.ffi.new("char[]", peer_point)
    p = c.ffi.new("CK_ECDH1_DERIVE_PARAMS *", {"kdf": CKD.NULL, "pPublicData": buf,
                                               "ulPublicDataLen": len(peer_point)})
    return c.mech(CKM.ECDH1_DERIVE, p), (buf, p)


def test_derive_ecdh_template_rules(c):
    pub, priv = _p256_pair(c)
    peer = ec.generate_private_key(ec.SECP256R1())
    point = peer.public_key().public_bytes(serialization.Encoding.X962,
                                           serialization.PublicFormat.UncompressedPoint)
    mech, _keep = _ecdh(c, point)
    out = c.ffi.new("CK_OBJECT_HANDLE *")
    t = Template(c.ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE_LEN, 32), *READABLE])
    assert c.fl.C_DeriveKey(c.h, mech, priv, t.arr, t.count, out) == CKR.OK
    token_pub = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), c.get(pub, CKA.EC_POINT)[2:])
    assert c.get(out[0], CKA.VALUE) == peer.exchange(ec.ECDH(), token_pub)
    for cka in (CKA.LOCAL, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE):
        assert c.get(out[0], cka) == b"\x00", cka
    # a sensitive, unextractable derived key inherits ALWAYS_SENSITIVE / NEVER_EXTRACTABLE
    t2 = Template(c.ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE_LEN, 16),
                          (CKA.SENSITIVE, True), (CKA.EXTRACTABLE, False)])
    assert c.fl.C_DeriveKey(c.h, mech, priv, t2.arr, t2.count, out) == CKR.OK
    assert c.get(out[0], CKA.ALWAYS_SENSITIVE) == b"\x01"
    assert c.get(out[0], CKA.NEVER_EXTRACTABLE) == b"\x01"
    # CKA_DERIVE_TEMPLATE of the base (KEY_TYPE AES) contradicts a generic secret
    t3 = Template(c.ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET)])
    assert c.fl.C_DeriveKey(c.h, mech, priv, t3.arr, t3.count, out) == CKR.TEMPLATE_INCONSISTENT
    # the template is validated like any new object
    t4 = Template(c.ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.MODULUS, b"\x01")])
    assert c.fl.C_DeriveKey(c.h, mech, priv, t4.arr, t4.count, out) == CKR.ATTRIBUTE_TYPE_INVALID
    _, nope = _p256_pair(c, derive=False)
    assert c.fl.C_DeriveKey(c.h, mech, nope, t.arr, t.count, out) == CKR.KEY_FUNCTION_NOT_PERMITTED


# --- recover ---------------------------------------------------------------------------------
def test_sign_recover_verify_recover_rsa_pkcs(c):
    pub_t = Template(c.ffi, [(CKA.MODULUS_BITS, 2048), (CKA.VERIFY_RECOVER, True)])
    priv_t = Template(c.ffi, [(CKA.SIGN_RECOVER, True)])
    pub, priv = c.ffi.new("CK_OBJECT_HANDLE *"), c.ffi.new("CK_OBJECT_HANDLE *")
    assert c.fl.C_GenerateKeyPair(c.h, c.mech(CKM.RSA_PKCS_KEY_PAIR_GEN), pub_t.arr, pub_t.count,
                                  priv_t.arr, priv_t.count, pub, priv) == CKR.OK
    mech = c.mech(CKM.RSA_PKCS)
    # raw CKM_RSA_PKCS signs a DigestInfo here (pyca signs only prehashed PKCS#1 v1.5)
    data = bytes.fromhex("3031300d060960864801650304020105000420") + hashlib.sha256(b"recover me").digest()
    assert c.fl.C_SignRecoverInit(c.h, mech, priv[0]) == CKR.OK
    n = c.ffi.new("CK_ULONG *")
    assert c.fl.C_SignRecover(c.h, data, len(data), c.ffi.NULL, n) == CKR.OK
    assert n[0] == 256
    sig = c.ffi.new("char[256]")
    assert c.fl.C_SignRecover(c.h, data, len(data), sig, n) == CKR.OK
    assert c.fl.C_VerifyRecoverInit(c.h, mech, pub[0]) == CKR.OK
    out = c.ffi.new("char[256]")
    n[0] = 256
    assert c.fl.C_VerifyRecover(c.h, sig, 256, out, n) == CKR.OK
    assert bytes(c.ffi.buffer(out, n[0])) == data
    # a key without CKA_SIGN_RECOVER
    assert c.fl.C_SignRecoverInit(c.h, mech, pub[0]) in (CKR.KEY_TYPE_INCONSISTENT,
                                                       CKR.KEY_FUNCTION_NOT_PERMITTED)


# --- message-based API -------------------------------------------------------------------------
def _gcm_msg(c, iv: bytes, generator: int = CKG_NO_GENERATE, fixed_bits: int = 0, tag: bytes | None = None):
    ivbuf = c.ffi.new("char[]", iv)
    tagbuf = c.ffi.new("char[16]", tag or b"\0" * 16)
    p = c.ffi.new("CK_GCM_MESSAGE_PARAMS *", {"pIv": ivbuf, "ulIvLen": len(iv), "ulIvFixedBits": fixed_bits,
                                              "ivGenerator": generator, "pTag": tagbuf, "ulTagBits": 128})
    return p, ivbuf, tagbuf


def test_message_gcm_round_trip_tag_written_back(c):
    value = os.urandom(32)
    key = c.aes(value, encrypt=True, decrypt=True)
    assert c.fl.C_MessageEncryptInit(c.h, c.mech(CKM.AES_GCM), key) == CKR.OK
    iv, aad, data = os.urandom(12), b"header", b"message one"
    p, _ivbuf, tagbuf = _gcm_msg(c, iv)
    size = c.ffi.sizeof("CK_GCM_MESSAGE_PARAMS")
    n = c.ffi.new("CK_ULONG *")
    assert c.fl.C_EncryptMessage(c.h, p, size, aad, len(aad), data, len(data), c.ffi.NULL, n) == CKR.OK
    assert n[0] == len(data)
    assert bytes(c.ffi.buffer(tagbuf, 16)) == b"\0" * 16           # nothing written on a size query
    out = c.ffi.new("char[]", n[0])
    assert c.fl.C_EncryptMessage(c.h, p, size, aad, len(aad), data, len(data), out, n) == CKR.OK
    ct, tag = bytes(c.ffi.buffer(out, n[0])), bytes(c.ffi.buffer(tagbuf, 16))
    assert AESGCM(value).decrypt(iv, ct + tag, aad) == data
    # a generated IV comes back in pIv (the fixed leading 32 bits kept)
    fixed = b"\xA5\xA5\xA5\xA5" + b"\0" * 8
    p2, ivbuf2, tagbuf2 = _gcm_msg(c, fixed, CKG_GENERATE_RANDOM, 32)
    out2 = c.ffi.new("char[]", len(data))
    n[0] = len(data)
    assert c.fl.C_EncryptMessage(c.h, p2, size, c.ffi.NULL, 0, data, len(data), out2, n) == CKR.OK
    iv2, tag2 = bytes(c.ffi.buffer(ivbuf2, 12)), bytes(c.ffi.buffer(tagbuf2, 16))
    assert iv2[:4] == fixed[:4] and iv2 != fixed
    assert AESGCM(value).decrypt(iv2, bytes(c.ffi.buffer(out2, n[0])) + tag2, None) == data
    assert c.fl.C_MessageEncryptFinal(c.h) == CKR.OK
    assert c.fl.C_MessageEncryptFinal(c.h) == CKR.OPERATION_NOT_INITIALIZED

    assert c.fl.C_MessageDecryptInit(c.h, c.mech(CKM.AES_GCM), key) == CKR.OK
    p3, *_keep3 = _gcm_msg(c, iv, tag=tag)     # its buffers must outlive the calls
    plain = c.ffi.new("char[]", len(ct))
    n[0] = len(ct)
    assert c.fl.C_DecryptMessage(c.h, p3, size, aad, len(aad), ct, len(ct), plain, n) == CKR.OK
    assert bytes(c.ffi.buffer(plain, n[0])) == data
    p4, *_keep4 = _gcm_msg(c, iv, tag=bytes([tag[0] ^ 1]) + tag[1:])
    assert c.fl.C_DecryptMessage(c.h, p4, size, aad, len(aad), ct, len(ct), plain, n) == \
        CKR.ENCRYPTED_DATA_INVALID
    # the operation survives a failed message; a NULL per-message parameter is refused
    assert c.fl.C_DecryptMessage(c.h, c.ffi.NULL, 0, aad, len(aad), ct, len(ct), plain, n) == \
        CKR.MECHANISM_PARAM_INVALID
    assert c.fl.C_DecryptMessage(c.h, p3, size - 8, aad, len(aad), ct, len(ct), plain, n) == \
        CKR.MECHANISM_PARAM_INVALID
    assert c.fl.C_MessageDecryptFinal(c.h) == CKR.OK


def test_message_api_needs_message_flags_and_key_usage(c):
    key = c.aes(encrypt=False)
    assert c.fl.C_MessageEncryptInit(c.h, c.mech(CKM.AES_GCM), key) == CKR.KEY_FUNCTION_NOT_PERMITTED
    key2 = c.aes(encrypt=True)
    assert c.fl.C_MessageEncryptInit(c.h, c.mech(CKM.AES_ECB), key2) == CKR.MECHANISM_INVALID


# --- KEM through the 3.2 function list -----------------------------------------------------------
def test_encapsulate_decapsulate_via_32_list(c):
    pub_t = Template(c.ffi, [(CKA.PARAMETER_SET, MLKEMParameterSet.ML_KEM_768)])
    priv_t = Template(c.ffi, [])
    pub, priv = c.ffi.new("CK_OBJECT_HANDLE *"), c.ffi.new("CK_OBJECT_HANDLE *")
    rv = c.fl.C_GenerateKeyPair(c.h, c.mech(CKM.ML_KEM_KEY_PAIR_GEN), pub_t.arr, pub_t.count,
                                priv_t.arr, priv_t.count, pub, priv)
    assert rv == CKR.OK, hex(rv)
    t = Template(c.ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), *READABLE])
    mech = c.mech(CKM.ML_KEM)
    n = c.ffi.new("CK_ULONG *")
    key = c.ffi.new("CK_OBJECT_HANDLE *")
    fl = c.fl32
    assert fl.C_EncapsulateKey(c.h, mech, pub[0], t.arr, t.count, c.ffi.NULL, n, key) == CKR.OK
    assert n[0] == 1088                                   # ML-KEM-768 ciphertext
    small = c.ffi.new("char[16]")
    n[0] = 16
    assert fl.C_EncapsulateKey(c.h, mech, pub[0], t.arr, t.count, small, n, key) == CKR.BUFFER_TOO_SMALL
    assert n[0] == 1088
    ct = c.ffi.new("char[1088]")
    assert fl.C_EncapsulateKey(c.h, mech, pub[0], t.arr, t.count, ct, n, key) == CKR.OK
    secret = c.get(key[0], CKA.VALUE)
    assert len(secret) == 32
    key2 = c.ffi.new("CK_OBJECT_HANDLE *")
    assert fl.C_DecapsulateKey(c.h, mech, priv[0], t.arr, t.count, ct, 1088, key2) == CKR.OK
    assert c.get(key2[0], CKA.VALUE) == secret
    # wrong key class: the public key cannot decapsulate
    assert fl.C_DecapsulateKey(c.h, mech, pub[0], t.arr, t.count, ct, 1088, key2) == CKR.KEY_TYPE_INCONSISTENT


def test_message_begin_next_gcm(c):
    """Begin/Next: parts are buffered; the part flagged CKF_END_OF_MESSAGE returns the
    whole message's output and writes the tag back."""
    value = os.urandom(16)
    key = c.aes(value, encrypt=True, decrypt=True)
    size = c.ffi.sizeof("CK_GCM_MESSAGE_PARAMS")
    iv, aad, parts = os.urandom(12), b"aad", [b"part one, ", b"part two, ", b"the end"]
    assert c.fl.C_MessageEncryptInit(c.h, c.mech(CKM.AES_GCM), key) == CKR.OK
    p, _ivbuf, tagbuf = _gcm_msg(c, iv)
    n = c.ffi.new("CK_ULONG *")
    out = c.ffi.new("char[64]")
    assert c.fl.C_EncryptMessageNext(c.h, p, size, b"x", 1, out, n, 0) == CKR.OPERATION_NOT_INITIALIZED
    assert c.fl.C_EncryptMessageBegin(c.h, p, size, aad, len(aad)) == CKR.OK
    for part in parts[:-1]:
        assert c.fl.C_EncryptMessageNext(c.h, p, size, part, len(part), c.ffi.NULL, n, 0) == CKR.OK
        assert n[0] == 0
        n[0] = 64
        assert c.fl.C_EncryptMessageNext(c.h, p, size, part, len(part), out, n, 0) == CKR.OK
        assert n[0] == 0
    last = parts[-1]
    n[0] = 1
    assert c.fl.C_EncryptMessageNext(c.h, p, size, last, len(last), out, n, 1) == CKR.BUFFER_TOO_SMALL
    total = len(b"".join(parts))
    assert n[0] == total
    assert c.fl.C_EncryptMessageNext(c.h, p, size, last, len(last), out, n, 1) == CKR.OK
    ct, tag = bytes(c.ffi.buffer(out, n[0])), bytes(c.ffi.buffer(tagbuf, 16))
    assert AESGCM(value).decrypt(iv, ct + tag, aad) == b"".join(parts)
    assert c.fl.C_MessageEncryptFinal(c.h) == CKR.OK

    assert c.fl.C_MessageDecryptInit(c.h, c.mech(CKM.AES_GCM), key) == CKR.OK
    p2, *_keep2 = _gcm_msg(c, iv, tag=tag)     # its buffers must outlive the calls
    assert c.fl.C_DecryptMessageBegin(c.h, p2, size, aad, len(aad)) == CKR.OK
    n[0] = 64
    assert c.fl.C_DecryptMessageNext(c.h, p2, size, ct[:5], 5, out, n, 0) == CKR.OK and n[0] == 0
    n[0] = 64
    assert c.fl.C_DecryptMessageNext(c.h, p2, size, ct[5:], len(ct) - 5, out, n, 1) == CKR.OK
    assert bytes(c.ffi.buffer(out, n[0])) == b"".join(parts)
    assert c.fl.C_MessageDecryptFinal(c.h) == CKR.OK
