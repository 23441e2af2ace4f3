"""The lying-length cases run in a child by tests/abi/test_lying_lengths.py.

Each case gets a :class:`boundary.Token` and returns the CK_RV of the call under test (or
a dict with ``rv`` and facts the test checks). Every lying length sits over a small real
buffer at the end of a guard page (``boundary.Guard``): on a module that reads the stated
length the child dies with SIGSEGV, which the parent reports as a failure.
"""
from __future__ import annotations

import struct
import types

from boundary import P256_OID, Guard

from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKZ

_G = None
U = struct.Struct("<Q").pack


def guard() -> Guard:
    global _G
    if _G is None:
        _G = Guard()
    return _G


def lying_template(tok, lie_type, value: bytes, lie_len: int, extra=()):
    """A template whose ``lie_type`` entry claims ``lie_len`` bytes over ``value`` at the
    end of the guard page."""
    ffi = tok.ffi
    pairs = [(t, v) for t, v in extra]
    arr, count = tok.template([*pairs, (lie_type, b"")])
    arr[count - 1].pValue = guard().tail(ffi, value)
    arr[count - 1].ulValueLen = lie_len
    return arr, count


DATA_OBJ = ((CKA.CLASS, U(CKO.DATA)), (CKA.TOKEN, b"\x00"))


def aes_key(tok):
    fl = tok.fl
    pairs = [(CKA.CLASS, U(CKO.SECRET_KEY)), (CKA.KEY_TYPE, U(CKK.AES)), (CKA.VALUE, bytes(range(32))),
             (CKA.TOKEN, b"\x00")]
    for name in ("ENCRYPT", "DECRYPT", "WRAP", "UNWRAP", "SIGN", "DERIVE"):
        pairs.append((getattr(CKA, name), b"\x01"))
    arr, n = tok.template(pairs)
    out = tok.handle_out()
    assert fl.C_CreateObject(tok.h, arr, n, out) == 0
    return out[0]


def ec_pair(tok):
    ffi, fl = tok.ffi, tok.fl
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.EC_KEY_PAIR_GEN})
    pub, npub = tok.template([(CKA.EC_PARAMS, P256_OID), (CKA.VERIFY, b"\x01"), (CKA.TOKEN, b"\x00")])
    priv, npriv = tok.template([(CKA.SIGN, b"\x01"), (CKA.DERIVE, b"\x01"), (CKA.TOKEN, b"\x00")])
    hpub, hpriv = tok.handle_out(), tok.handle_out()
    assert fl.C_GenerateKeyPair(tok.h, mech, pub, npub, priv, npriv, hpub, hpriv) == 0
    return hpub[0], hpriv[0]


def data_object(tok, label: bytes = b"ten chars!"):
    arr, n = tok.template([*DATA_OBJ, (CKA.LABEL, label), (CKA.VALUE, b"v")])
    out = tok.handle_out()
    assert tok.fl.C_CreateObject(tok.h, arr, n, out) == 0
    return out[0]


# --- templates ------------------------------------------------------------------------------
def _create(tok, t, value, n, extra=DATA_OBJ):
    arr, count = lying_template(tok, t, value, n, extra)
    return tok.fl.C_CreateObject(tok.h, arr, count, tok.handle_out())


def create_value_2_31(tok):
    return _create(tok, CKA.VALUE, b"abcd", 1 << 31)


def create_value_ffffffff(tok):
    return _create(tok, CKA.VALUE, b"abcd", 0xFFFFFFFF)


def create_value_ulong_max(tok):
    return _create(tok, CKA.VALUE, b"abcd", 0xFFFFFFFFFFFFFFFF)


def create_label_2_31(tok):
    return _create(tok, CKA.LABEL, b"lbl", 1 << 31)


def create_bool_64k(tok):
    """CK_BBOOL is 1 byte: a 64 KiB length is refused before anything is read."""
    return _create(tok, CKA.PRIVATE, b"\x00", 1 << 16)


def create_ulong_4k(tok):
    return _create(tok, CKA.CLASS, U(CKO.DATA), 4096, extra=((CKA.TOKEN, b"\x00"),))


def create_date_4k(tok):
    return _create(tok, CKA.START_DATE, b"20260101", 4096)


def create_mechanisms_1m(tok):
    return _create(tok, CKA.ALLOWED_MECHANISMS, U(CKM.AES_GCM), 1 << 20)


def create_ec_params_2_31(tok):
    return _create(tok, CKA.EC_PARAMS, P256_OID, 1 << 31)


def create_count_2_32(tok):
    ffi = tok.ffi
    arr = guard().tail(ffi, b"\x00" * 24, "CK_ATTRIBUTE *")   # one zeroed entry, then PROT_NONE
    return tok.fl.C_CreateObject(tok.h, arr, 1 << 32, tok.handle_out())


def create_nested_len_lie(tok):
    """CKA_WRAP_TEMPLATE claiming 2^20 entries over one (a valid CKA_LABEL entry, so a
    module that walks the stated count reads the second entry: the PROT_NONE page)."""
    inner = struct.pack("<QQQ", CKA.LABEL, 0, 0)
    extra = (*DATA_OBJ,)
    return _create(tok, CKA.WRAP_TEMPLATE, inner, 24 << 20, extra)


def create_nested_inner_value_lie(tok):
    """A nested template entry whose own ulValueLen lies."""
    ffi = tok.ffi
    g = guard()
    inner = ffi.new("CK_ATTRIBUTE[1]")
    tok.keep.append(inner)
    inner[0].type = CKA.LABEL
    inner[0].pValue = g.tail(ffi, b"x")
    inner[0].ulValueLen = 0xFFFFFFFF
    arr, count = tok.template([(CKA.CLASS, U(CKO.SECRET_KEY)), (CKA.KEY_TYPE, U(CKK.AES)),
                               (CKA.VALUE, bytes(16)), (CKA.TOKEN, b"\x00"), (CKA.WRAP_TEMPLATE, b"")])
    arr[count - 1].pValue = inner
    arr[count - 1].ulValueLen = 24
    return tok.fl.C_CreateObject(tok.h, arr, count, tok.handle_out())


def create_nested_fanout(tok):
    """Four levels of CKA_WRAP_TEMPLATE, each with 1000 entries pointing at the next level
    (10^12 entries if nothing bounds the total): refused after the first level's budget."""
    ffi = tok.ffi
    level = ffi.new("CK_ATTRIBUTE[1000]")
    tok.keep.append(level)
    for i in range(1000):
        level[i].type = CKA.LABEL
        level[i].pValue = ffi.NULL
        level[i].ulValueLen = 0
    for _ in range(3):
        up = ffi.new("CK_ATTRIBUTE[1000]")
        tok.keep.append(up)
        for i in range(1000):
            up[i].type = CKA.WRAP_TEMPLATE
            up[i].pValue = level
            up[i].ulValueLen = 24 * 1000
        level = up
    arr, count = tok.template([(CKA.CLASS, U(CKO.SECRET_KEY)), (CKA.KEY_TYPE, U(CKK.AES)),
                               (CKA.VALUE, bytes(16)), (CKA.TOKEN, b"\x00"), (CKA.WRAP_TEMPLATE, b"")])
    arr[count - 1].pValue = level
    arr[count - 1].ulValueLen = 24 * 1000
    return tok.fl.C_CreateObject(tok.h, arr, count, tok.handle_out())


def copy_object_lie(tok):
    obj = data_object(tok)
    arr, count = lying_template(tok, CKA.LABEL, b"x", 1 << 40)
    return tok.fl.C_CopyObject(tok.h, obj, arr, count, tok.handle_out())


def find_init_label_2_31(tok):
    arr, count = lying_template(tok, CKA.LABEL, b"abc", 1 << 31)
    return tok.fl.C_FindObjectsInit(tok.h, arr, count)


def find_init_count_2_32(tok):
    arr = guard().tail(tok.ffi, b"\x00" * 24, "CK_ATTRIBUTE *")
    return tok.fl.C_FindObjectsInit(tok.h, arr, 1 << 32)


def set_attribute_lie(tok):
    obj = data_object(tok)
    arr, count = lying_template(tok, CKA.LABEL, b"new", 0xFFFFFFFF)
    return tok.fl.C_SetAttributeValue(tok.h, obj, arr, count)


def get_attribute_count_2_32(tok):
    """Refused at once (the old code walked 2^32 entries: hours, or a crash at the guard)."""
    obj = data_object(tok)
    arr = guard().tail(tok.ffi, struct.pack("<QQQ", CKA.LABEL, 0, 0), "CK_ATTRIBUTE *")
    return tok.fl.C_GetAttributeValue(tok.h, obj, arr, 1 << 32)


def get_attribute_output_bounded(tok):
    """A 4-byte buffer at the end of the guard page for a 10-byte label: the module writes
    nothing (BUFFER_TOO_SMALL, CK_UNAVAILABLE_INFORMATION), never past ulValueLen."""
    ffi = tok.ffi
    obj = data_object(tok, b"ten chars!")
    arr = ffi.new("CK_ATTRIBUTE[1]")
    arr[0].type = CKA.LABEL
    arr[0].pValue = guard().tail(ffi, b"\xAA" * 4)
    arr[0].ulValueLen = 4
    rv = tok.fl.C_GetAttributeValue(tok.h, obj, arr, 1)
    untouched = bytes(ffi.buffer(arr[0].pValue, 4)) == b"\xAA" * 4
    return {"rv": rv, "len": arr[0].ulValueLen, "untouched": untouched}


def generate_key_lie(tok):
    ffi = tok.ffi
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.AES_KEY_GEN})
    arr, count = lying_template(tok, CKA.VALUE_LEN, U(32), 1 << 31, ((CKA.TOKEN, b"\x00"),))
    return tok.fl.C_GenerateKey(tok.h, mech, arr, count, tok.handle_out())


def generate_key_pair_lie(tok):
    ffi = tok.ffi
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.EC_KEY_PAIR_GEN})
    pub, npub = lying_template(tok, CKA.EC_PARAMS, P256_OID, 0xFFFFFFFF, ((CKA.TOKEN, b"\x00"),))
    priv, npriv = tok.template([(CKA.TOKEN, b"\x00")])
    return tok.fl.C_GenerateKeyPair(tok.h, mech, pub, npub, priv, npriv, tok.handle_out(), tok.handle_out())


def generate_key_pair_count_lie(tok):
    ffi = tok.ffi
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.EC_KEY_PAIR_GEN})
    pub, npub = tok.template([(CKA.EC_PARAMS, P256_OID)])
    priv = guard().tail(ffi, b"\x00" * 24, "CK_ATTRIBUTE *")
    return tok.fl.C_GenerateKeyPair(tok.h, mech, pub, npub, priv, 1 << 40, tok.handle_out(), tok.handle_out())


# --- mechanism parameters --------------------------------------------------------------------
def _mech(tok, m, param, n):
    mech = tok.ffi.new("CK_MECHANISM *")
    mech.mechanism, mech.pParameter, mech.ulParameterLen = m, param, n
    tok.keep.append(mech)
    return mech


def sign_init_raw_param_lie(tok):
    """CKM_ECDSA takes no parameter: a 2^31-byte one over 4 bytes is refused unread."""
    _, priv = ec_pair(tok)
    mech = _mech(tok, CKM.ECDSA, guard().tail(tok.ffi, b"abcd"), 1 << 31)
    return tok.fl.C_SignInit(tok.h, mech, priv)


def encrypt_init_iv_lie(tok):
    key = aes_key(tok)
    mech = _mech(tok, CKM.AES_CBC, guard().tail(tok.ffi, bytes(16)), 0xFFFFFFFF)
    return tok.fl.C_EncryptInit(tok.h, mech, key)


def _gcm(tok, iv_len, aad_len):
    ffi = tok.ffi
    g = guard()
    p = ffi.new("CK_GCM_PARAMS *")
    tok.keep.append(p)
    p.pIv = g.tail(ffi, bytes(12)) if iv_len > 12 else tok.buf(bytes(12))
    p.ulIvLen, p.ulIvBits = iv_len, 96
    p.pAAD = g.tail(ffi, b"aad") if aad_len > 3 else tok.buf(b"aad")
    p.ulAADLen, p.ulTagBits = aad_len, 128
    return p


def encrypt_init_gcm_iv_lie(tok):
    key = aes_key(tok)
    p = _gcm(tok, 1 << 31, 3)
    return tok.fl.C_EncryptInit(tok.h, _mech(tok, CKM.AES_GCM, p, tok.ffi.sizeof("CK_GCM_PARAMS")), key)


def encrypt_init_gcm_aad_lie(tok):
    key = aes_key(tok)
    p = _gcm(tok, 12, 1 << 40)
    return tok.fl.C_EncryptInit(tok.h, _mech(tok, CKM.AES_GCM, p, tok.ffi.sizeof("CK_GCM_PARAMS")), key)


def encrypt_init_gcm_param_len_lie(tok):
    key = aes_key(tok)
    p = guard().tail(tok.ffi, bytes(48))
    return tok.fl.C_EncryptInit(tok.h, _mech(tok, CKM.AES_GCM, p, 1 << 31), key)


def decrypt_init_oaep_label_lie(tok):
    ffi = tok.ffi
    p = ffi.new("CK_RSA_PKCS_OAEP_PARAMS *")
    tok.keep.append(p)
    p.hashAlg, p.mgf, p.source = CKM.SHA256, 2, CKZ.DATA_SPECIFIED
    p.pSourceData, p.ulSourceDataLen = guard().tail(ffi, b"lbl"), 1 << 31
    mech = _mech(tok, CKM.RSA_PKCS_OAEP, p, ffi.sizeof("CK_RSA_PKCS_OAEP_PARAMS"))
    return tok.fl.C_DecryptInit(tok.h, mech, 12345)   # refused before the key is looked up


def derive_ecdh_public_lie(tok):
    ffi = tok.ffi
    _, priv = ec_pair(tok)
    p = ffi.new("CK_ECDH1_DERIVE_PARAMS *")
    tok.keep.append(p)
    p.kdf, p.ulSharedDataLen, p.pSharedData = 1, 0, ffi.NULL
    p.pPublicData, p.ulPublicDataLen = guard().tail(ffi, b"\x04" + bytes(64)), 0xFFFFFFFF
    mech = _mech(tok, CKM.ECDH1_DERIVE, p, ffi.sizeof("CK_ECDH1_DERIVE_PARAMS"))
    arr, n = tok.template([(CKA.CLASS, U(CKO.SECRET_KEY)), (CKA.KEY_TYPE, U(CKK.AES)),
                           (CKA.VALUE_LEN, U(16)), (CKA.TOKEN, b"\x00")])
    return tok.fl.C_DeriveKey(tok.h, mech, priv, arr, n, tok.handle_out())


def derive_template_lie(tok):
    ffi = tok.ffi
    base = aes_key(tok)
    p = ffi.new("CK_HKDF_PARAMS *")
    tok.keep.append(p)
    p.bExtract, p.bExpand, p.prfHashMechanism, p.ulSaltType = 1, 1, CKM.SHA256, 1
    mech = _mech(tok, CKM.HKDF_DERIVE, p, ffi.sizeof("CK_HKDF_PARAMS"))
    arr, n = lying_template(tok, CKA.LABEL, b"k", 1 << 40, ((CKA.TOKEN, b"\x00"),))
    return tok.fl.C_DeriveKey(tok.h, mech, base, arr, n, tok.handle_out())


def derive_hkdf_salt_lie(tok):
    ffi = tok.ffi
    base = aes_key(tok)
    p = ffi.new("CK_HKDF_PARAMS *")
    tok.keep.append(p)
    p.bExtract, p.bExpand, p.prfHashMechanism, p.ulSaltType = 1, 1, CKM.SHA256, 2   # CKF_HKDF_SALT_DATA
    p.pSalt, p.ulSaltLen = guard().tail(ffi, b"salt"), 1 << 31
    mech = _mech(tok, CKM.HKDF_DERIVE, p, ffi.sizeof("CK_HKDF_PARAMS"))
    arr, n = tok.template([(CKA.CLASS, U(CKO.SECRET_KEY)), (CKA.KEY_TYPE, U(CKK.GENERIC_SECRET)),
                           (CKA.VALUE_LEN, U(16)), (CKA.TOKEN, b"\x00")])
    return tok.fl.C_DeriveKey(tok.h, mech, base, arr, n, tok.handle_out())


def unwrap_template_lie(tok):
    ffi = tok.ffi
    key = aes_key(tok)
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.AES_KEY_WRAP})
    wrapped = tok.buf(bytes(24))
    arr, n = lying_template(tok, CKA.LABEL, b"k", 0xFFFFFFFF, ((CKA.CLASS, U(CKO.SECRET_KEY)),))
    return tok.fl.C_UnwrapKey(tok.h, mech, key, wrapped, 24, arr, n, tok.handle_out())


def eddsa_context_over_255(tok):
    """A real 300-byte context: above RFC 8032's 255, refused as a parameter."""
    ffi = tok.ffi
    p = ffi.new("CK_EDDSA_PARAMS *")
    tok.keep.append(p)
    p.phFlag, p.pContextData, p.ulContextDataLen = 0, tok.buf(bytes(300)), 300
    mech = _mech(tok, CKM.EDDSA, p, ffi.sizeof("CK_EDDSA_PARAMS"))
    return tok.fl.C_SignInit(tok.h, mech, 12345)


# --- PINs, random, find ----------------------------------------------------------------------
def login_pin_lie(tok):
    assert tok.fl.C_Logout(tok.h) == 0
    pin = guard().tail(tok.ffi, b"1234", "CK_UTF8CHAR_PTR")
    rv = tok.fl.C_Login(tok.h, 1, pin, 1 << 31)
    from boundary import USER_PIN
    assert tok.fl.C_Login(tok.h, 1, USER_PIN, len(USER_PIN)) == 0
    return rv


def init_pin_lie(tok):
    """C_InitPIN needs the SO; the length is refused before the session state is looked at."""
    pin = guard().tail(tok.ffi, b"1234", "CK_UTF8CHAR_PTR")
    return tok.fl.C_InitPIN(tok.h, pin, 0xFFFFFFFF)


def set_pin_lie(tok):
    pin = guard().tail(tok.ffi, b"1234", "CK_UTF8CHAR_PTR")
    return tok.fl.C_SetPIN(tok.h, pin, 1 << 40, pin, 4)


def generate_random_huge(tok):
    buf = guard().tail(tok.ffi, bytes(16), "CK_BYTE_PTR")
    return tok.fl.C_GenerateRandom(tok.h, buf, 1 << 40)


def seed_random_lie(tok):
    buf = guard().tail(tok.ffi, bytes(16), "CK_BYTE_PTR")
    return tok.fl.C_SeedRandom(tok.h, buf, 1 << 31)


def find_objects_max_huge(tok):
    """ulMaxObjectCount 2^63 over a 3-handle buffer, with 3 matching objects: the module
    returns them at once (it neither allocates nor loops by ulMaxObjectCount)."""
    ffi, fl = tok.ffi, tok.fl
    for _ in range(3):
        data_object(tok, b"find-me")
    arr, n = tok.template([(CKA.LABEL, b"find-me")])
    assert fl.C_FindObjectsInit(tok.h, arr, n) == 0
    out = guard().tail(ffi, bytes(3 * 8), "CK_OBJECT_HANDLE_PTR")
    count = ffi.new("CK_ULONG *")
    rv = fl.C_FindObjects(tok.h, out, 1 << 63, count)
    found = count[0]
    fl.C_FindObjectsFinal(tok.h)
    return {"rv": rv, "found": found}


def message_param_iv_lie(tok):
    ffi, fl = tok.ffi, tok.fl
    key = aes_key(tok)
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.AES_GCM})
    rv = fl.C_MessageEncryptInit(tok.h, mech, key)
    assert rv == 0, hex(rv)
    p = ffi.new("CK_GCM_MESSAGE_PARAMS *")
    tok.keep.append(p)
    p.pIv, p.ulIvLen = guard().tail(ffi, bytes(12)), 1 << 31
    p.ulIvFixedBits, p.ivGenerator, p.pTag, p.ulTagBits = 0, 0, tok.buf(bytes(16)), 128
    out = tok.buf(bytes(64))
    n = ffi.new("CK_ULONG *", 64)
    rv = fl.C_EncryptMessage(tok.h, p, ffi.sizeof("CK_GCM_MESSAGE_PARAMS"), ffi.NULL, 0, b"hi", 2, out, n)
    fl.C_MessageEncryptFinal(tok.h)
    return rv


CASES = {name: fn for name, fn in globals().items()
         if isinstance(fn, types.FunctionType) and fn.__module__ == __name__ and not name.startswith("_")
         and name not in ("guard", "lying_template", "aes_key", "ec_pair", "data_object")}
