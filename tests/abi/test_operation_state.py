"""Operation state across calls, through the real libstrongroom.so (issue 10 item 5).

v2.40 §5.2 (v3.0 the same) and each function's own text: a size query or
CKR_BUFFER_TOO_SMALL keeps the operation active and the output belongs to the same call
with the same input; every other outcome ends the operation. Each sequence below runs
for every function that follows the two-call convention (``CASES``):

* size query, then the same call with the same input: the right output;
* size query, then the same function with another input: the output for *that* input
  (never the pending one);
* size query, then another function of the operation: CKR_OPERATION_ACTIVE, or that
  call's own right answer -- never the pending output, never a skipped tag check;
* a NULL length pointer: CKR_ARGUMENTS_BAD, and the operation has ended.
"""
from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap
from opstate_support import (
    AAD,
    IV,
    Case,
    Session,
    Template,
    ecdsa_ok,
    gcm_encrypt,
    message_param,
    rsa_pkcs1_sign,
    sha256,
)

from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR

PLAIN = b"the message that was really sent"        # 32 bytes
_SHA256_INFO = bytes.fromhex("3031300d060960864801650304020105000420")   # DigestInfo prefix


def digest_info(message: bytes) -> bytes:
    """What raw CKM_RSA_PKCS signs (mechanisms/rsa.py: a DigestInfo of a known hash)."""
    return _SHA256_INFO + sha256(message)


@pytest.fixture
def s(ck) -> Session:
    return Session(ck)


def _buf(s: Session, n: int):
    return s.ffi.new("CK_BYTE[]", max(n, 1))


# --- the functions ----------------------------------------------------------------------------
def _enc_init(s):
    assert s.fl.C_EncryptInit(s.h, s.gcm(), s.aes) == CKR.OK


def _dec_init(s):
    assert s.fl.C_DecryptInit(s.h, s.gcm(), s.aes) == CKR.OK


def _digest_init(s):
    assert s.fl.C_DigestInit(s.h, s.mech(CKM.SHA256)) == CKR.OK


def _ecdsa_init(s, mech=CKM.ECDSA):
    assert s.fl.C_SignInit(s.h, s.mech(mech), s.ec_key()[0]) == CKR.OK


def _out(s, out, plen) -> bytes:
    return bytes(s.ffi.buffer(out, plen[0]))


def _other(s, fn) -> tuple[int, bytes]:
    out, n = _buf(s, 4096), s.ffi.new("CK_ULONG *", 4096)
    rv = fn(out, n)
    return rv, (_out(s, out, n) if rv == CKR.OK else b"")


def _tag_of_nothing(s) -> bytes:
    return AESGCM(s.aes_value).encrypt(IV, b"", AAD)


def _decrypt_update_check(s, data, out) -> bool:
    """GCM decryption releases nothing in update; the final then opens exactly ``data``
    (the size-queried input was not fed, this one was not dropped)."""
    if out != b"":
        return False
    final, n = _buf(s, 256), s.ffi.new("CK_ULONG *", 256)
    rv = s.fl.C_DecryptFinal(s.h, final, n)
    expected = PLAIN if data == gcm_encrypt(s, PLAIN) else None
    return (rv == CKR.OK and _out(s, final, n) == expected) if expected else rv != CKR.OK


def _sign_recover_init(s):
    assert s.fl.C_SignRecoverInit(s.h, s.mech(CKM.RSA_PKCS), s.rsa_keys()[0]) == CKR.OK


def _verify_recover_init(s):
    assert s.fl.C_VerifyRecoverInit(s.h, s.mech(CKM.RSA_PKCS), s.rsa_keys()[1]) == CKR.OK


def _wrap(s, data, out, plen):
    target = s.targets[0] if data == b"first" else s.targets[1]
    return s.fl.C_WrapKey(s.h, s.mech(CKM.AES_KEY_WRAP), s.aes, target, out, plen)


def _wrap_check(s, data, out) -> bool:
    target = s.targets[0] if data == b"first" else s.targets[1]
    return aes_key_unwrap(s.aes_value, out) == s.value(target)


_KEM_TEMPLATE = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
                 (CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)]


def _encapsulate(s, data, out, plen):
    t = Template(s.ffi, [*_KEM_TEMPLATE, (CKA.LABEL, data.decode())])
    key = s.ffi.new("CK_OBJECT_HANDLE *")
    rv = s.fl32.C_EncapsulateKey(s.h, s.mech(CKM.ML_KEM), s.kem_keys()[0], t.arr, t.count, out, plen, key)
    s.extra_key = key[0]
    return rv


def _encapsulate_check(s, data, out) -> bool:
    t = Template(s.ffi, _KEM_TEMPLATE)
    key = s.ffi.new("CK_OBJECT_HANDLE *")
    rv = s.fl32.C_DecapsulateKey(s.h, s.mech(CKM.ML_KEM), s.kem_keys()[1], t.arr, t.count, out, len(out), key)
    return rv == CKR.OK and s.value(key[0]) == s.value(s.extra_key)


def _msg_enc_init(s):
    assert s.fl.C_MessageEncryptInit(s.h, s.mech(CKM.AES_GCM), s.aes) == CKR.OK
    message_param(s)


def _msg_dec_init(s):
    assert s.fl.C_MessageDecryptInit(s.h, s.mech(CKM.AES_GCM), s.aes) == CKR.OK
    message_param(s, gcm_encrypt(s, PLAIN)[-16:])


def _encrypt_message(s, data, out, plen):
    p, _ = s.msg
    return s.fl.C_EncryptMessage(s.h, p, s.ffi.sizeof(p[0]), AAD, len(AAD), data, len(data), out, plen)


def _decrypt_message(s, data, out, plen):
    p, _ = s.msg
    return s.fl.C_DecryptMessage(s.h, p, s.ffi.sizeof(p[0]), AAD, len(AAD), data, len(data), out, plen)


def _message_ct_ok(s, data, out) -> bool:
    full = gcm_encrypt(s, data)
    return out == full[:-16] and bytes(s.ffi.buffer(s.msg[1], 16)) == full[-16:]


def _message_pt_ok(s, data, out) -> bool:
    return data == gcm_encrypt(s, PLAIN)[:-16] and out == PLAIN


def _msg_enc_next_init(s):
    _msg_enc_init(s)
    p, size = s.msg[0], s.ffi.sizeof("CK_GCM_MESSAGE_PARAMS")
    assert s.fl.C_EncryptMessageBegin(s.h, p, size, AAD, len(AAD)) == CKR.OK


def _msg_dec_next_init(s):
    _msg_dec_init(s)
    p, size = s.msg[0], s.ffi.sizeof("CK_GCM_MESSAGE_PARAMS")
    assert s.fl.C_DecryptMessageBegin(s.h, p, size, AAD, len(AAD)) == CKR.OK


def _encrypt_next(s, data, out, plen):
    p, _ = s.msg
    return s.fl.C_EncryptMessageNext(s.h, p, s.ffi.sizeof(p[0]), data, len(data), out, plen, 1)


def _decrypt_next(s, data, out, plen):
    p, _ = s.msg
    return s.fl.C_DecryptMessageNext(s.h, p, s.ffi.sizeof(p[0]), data, len(data), out, plen, 1)


def _reinit_message(encrypt: bool):
    def reinit(s):
        fn = s.fl.C_MessageEncryptInit if encrypt else s.fl.C_MessageDecryptInit
        return fn(s.h, s.mech(CKM.AES_GCM), s.aes)
    return reinit


def _ct(s) -> bytes:
    return gcm_encrypt(s, PLAIN)


CASES = [
    Case("C_Encrypt", _enc_init,
         lambda s, d, o, n: s.fl.C_Encrypt(s.h, d, len(d), o, n),
         lambda s, d, out: out == gcm_encrypt(s, d),
         other=lambda s: _other(s, lambda o, n: s.fl.C_EncryptUpdate(s.h, b"x", 1, o, n)),
         other_ok=lambda s, rv, out: rv == CKR.OPERATION_ACTIVE,
         reinit=lambda s: s.fl.C_EncryptInit(s.h, s.gcm(), s.aes)),
    Case("C_EncryptUpdate", _enc_init,
         lambda s, d, o, n: s.fl.C_EncryptUpdate(s.h, d, len(d), o, n),
         lambda s, d, out: out == gcm_encrypt(s, d)[:len(d)],
         # the size query fed nothing: the final is the tag of an empty message
         other=lambda s: _other(s, lambda o, n: s.fl.C_EncryptFinal(s.h, o, n)),
         other_ok=lambda s, rv, out: rv == CKR.OK and out == _tag_of_nothing(s),
         reinit=lambda s: s.fl.C_EncryptInit(s.h, s.gcm(), s.aes), finishes=False),
    Case("C_EncryptFinal",
         lambda s: (_enc_init(s), _other(s, lambda o, n: s.fl.C_EncryptUpdate(s.h, PLAIN, 32, o, n))),
         lambda s, d, o, n: s.fl.C_EncryptFinal(s.h, o, n),
         lambda s, d, out: out == gcm_encrypt(s, PLAIN)[-16:],
         other=lambda s: _other(s, lambda o, n: s.fl.C_Encrypt(s.h, b"x", 1, o, n)),
         other_ok=lambda s, rv, out: rv == CKR.OPERATION_ACTIVE,
         reinit=lambda s: s.fl.C_EncryptInit(s.h, s.gcm(), s.aes), has_input=False),
    Case("C_Decrypt", _dec_init,
         lambda s, d, o, n: s.fl.C_Decrypt(s.h, d, len(d), o, n),
         lambda s, d, out: out == PLAIN and d == _ct(s),
         inputs=(None, None),
         other=lambda s: _other(s, lambda o, n: s.fl.C_DecryptUpdate(s.h, b"x", 1, o, n)),
         other_ok=lambda s, rv, out: rv == CKR.OPERATION_ACTIVE,
         reinit=lambda s: s.fl.C_DecryptInit(s.h, s.gcm(), s.aes)),
    Case("C_DecryptUpdate", _dec_init,
         lambda s, d, o, n: s.fl.C_DecryptUpdate(s.h, d, len(d), o, n),
         _decrypt_update_check, inputs=(None, None),
         # 32 bytes of garbage were only size-queried: the final must not say CKR_OK
         other=lambda s: _other(s, lambda o, n: s.fl.C_DecryptFinal(s.h, o, n)),
         other_ok=lambda s, rv, out: rv not in (CKR.OK, CKR.BUFFER_TOO_SMALL),
         reinit=lambda s: s.fl.C_DecryptInit(s.h, s.gcm(), s.aes), finishes=False),
    Case("C_DecryptFinal",
         lambda s: (_dec_init(s), _other(s, lambda o, n: s.fl.C_DecryptUpdate(s.h, _ct(s), 48, o, n))),
         lambda s, d, o, n: s.fl.C_DecryptFinal(s.h, o, n),
         lambda s, d, out: out == PLAIN,
         other=lambda s: _other(s, lambda o, n: s.fl.C_DecryptUpdate(s.h, b"x", 1, o, n)),
         other_ok=lambda s, rv, out: rv == CKR.OPERATION_ACTIVE,
         reinit=lambda s: s.fl.C_DecryptInit(s.h, s.gcm(), s.aes), has_input=False),
    Case("C_Digest", _digest_init,
         lambda s, d, o, n: s.fl.C_Digest(s.h, d, len(d), o, n),
         lambda s, d, out: out == sha256(d),
         other=lambda s: _other(s, lambda o, n: s.fl.C_DigestUpdate(s.h, b"x", 1)),
         other_ok=lambda s, rv, out: rv == CKR.OPERATION_ACTIVE,
         reinit=lambda s: s.fl.C_DigestInit(s.h, s.mech(CKM.SHA256))),
    Case("C_DigestFinal",
         lambda s: (_digest_init(s), s.fl.C_DigestUpdate(s.h, b"abc", 3)),
         lambda s, d, o, n: s.fl.C_DigestFinal(s.h, o, n),
         lambda s, d, out: out == sha256(b"abc"),
         # C_Digest after a C_DigestFinal size query: not the digest of the earlier data
         other=lambda s: _other(s, lambda o, n: s.fl.C_Digest(s.h, b"other", 5, o, n)),
         other_ok=lambda s, rv, out: rv == CKR.OPERATION_ACTIVE,
         reinit=lambda s: s.fl.C_DigestInit(s.h, s.mech(CKM.SHA256)), has_input=False),
    Case("C_Sign", _ecdsa_init,
         lambda s, d, o, n: s.fl.C_Sign(s.h, d, len(d), o, n),
         lambda s, d, out: ecdsa_ok(s.ec_key()[1], d, out, prehashed=True),
         inputs=(sha256(b"one"), sha256(b"two")),
         other=lambda s: _other(s, lambda o, n: s.fl.C_SignUpdate(s.h, b"x", 1)),
         other_ok=lambda s, rv, out: rv == CKR.OPERATION_ACTIVE,
         reinit=lambda s: s.fl.C_SignInit(s.h, s.mech(CKM.ECDSA), s.ec_key()[0])),
    Case("C_SignFinal",
         lambda s: (_ecdsa_init(s, CKM.ECDSA_SHA256), s.fl.C_SignUpdate(s.h, b"abc", 3)),
         lambda s, d, o, n: s.fl.C_SignFinal(s.h, o, n),
         lambda s, d, out: ecdsa_ok(s.ec_key()[1], b"abc", out, prehashed=False),
         other=lambda s: _other(s, lambda o, n: s.fl.C_Sign(s.h, b"x", 1, o, n)),
         other_ok=lambda s, rv, out: rv == CKR.OPERATION_ACTIVE,
         reinit=lambda s: s.fl.C_SignInit(s.h, s.mech(CKM.ECDSA_SHA256), s.ec_key()[0]), has_input=False),
    Case("C_SignRecover", _sign_recover_init,
         lambda s, d, o, n: s.fl.C_SignRecover(s.h, d, len(d), o, n),
         lambda s, d, out: out == rsa_pkcs1_sign(s.rsa_keys()[2], d),
         inputs=(digest_info(b"one"), digest_info(b"two")),
         reinit=lambda s: s.fl.C_SignRecoverInit(s.h, s.mech(CKM.RSA_PKCS), s.rsa_keys()[0])),
    Case("C_VerifyRecover", _verify_recover_init,
         lambda s, d, o, n: s.fl.C_VerifyRecover(s.h, d, len(d), o, n),
         lambda s, d, out: d == rsa_pkcs1_sign(s.rsa_keys()[2], out),
         inputs=(None, None),
         reinit=lambda s: s.fl.C_VerifyRecoverInit(s.h, s.mech(CKM.RSA_PKCS), s.rsa_keys()[1])),
    Case("C_WrapKey", lambda s: None, _wrap, _wrap_check, inputs=(b"first", b"second"), stateless=True),
    Case("C_EncapsulateKey", lambda s: None, _encapsulate, _encapsulate_check,
         inputs=(b"first", b"second"), stateless=True),
    Case("C_EncryptMessage", _msg_enc_init, _encrypt_message, _message_ct_ok,
         other=lambda s: _other(s, lambda o, n: (
             s.fl.C_EncryptMessageBegin(s.h, s.msg[0], s.ffi.sizeof(s.msg[0][0]), AAD, len(AAD)),
             _encrypt_next(s, PLAIN, o, n))[1]),
         other_ok=lambda s, rv, out: rv == CKR.OK and out == gcm_encrypt(s, PLAIN)[:-16],
         reinit=_reinit_message(True), finishes=False, message=True),
    Case("C_DecryptMessage", _msg_dec_init, _decrypt_message, _message_pt_ok, inputs=(None, None),
         reinit=_reinit_message(False), finishes=False, message=True),
    Case("C_EncryptMessageNext", _msg_enc_next_init, _encrypt_next, _message_ct_ok,
         other=lambda s: _other(s, lambda o, n: _encrypt_message(s, PLAIN, o, n)),
         other_ok=lambda s, rv, out: rv == CKR.OK and out == gcm_encrypt(s, PLAIN)[:-16],
         reinit=_reinit_message(True), finishes=False, message=True),
    Case("C_DecryptMessageNext", _msg_dec_next_init, _decrypt_next, _message_pt_ok, inputs=(None, None),
         reinit=_reinit_message(False), finishes=False, message=True),
]

#: Inputs that depend on the session's keys: (valid, other). For decryption the other
#: input is garbage of the same length, which must never come out as CKR_OK.
_DYNAMIC = {
    "C_Decrypt": lambda s: (_ct(s), bytes(48)),
    "C_DecryptUpdate": lambda s: (bytes(32), _ct(s)),            # garbage first: see the check
    "C_VerifyRecover": lambda s: (rsa_pkcs1_sign(s.rsa_keys()[2], digest_info(b"one")),
                                  rsa_pkcs1_sign(s.rsa_keys()[2], digest_info(b"two"))),
    "C_DecryptMessage": lambda s: (_ct(s)[:-16], bytes(32)),
    "C_DecryptMessageNext": lambda s: (_ct(s)[:-16], bytes(32)),
}


def _inputs(case: Case, s: Session) -> tuple[bytes, bytes]:
    return _DYNAMIC[case.name](s) if case.name in _DYNAMIC else case.inputs


def _size_query(case: Case, s: Session, data: bytes):
    n = s.ffi.new("CK_ULONG *", 0)
    rv = case.call(s, data, s.ffi.NULL, n)
    return rv, n


def _ended(case: Case, s: Session) -> bool:
    """The operation is over: its C_*Init works again."""
    if case.reinit is None:
        return True
    return case.reinit(s) == CKR.OK


def _right_input(case: Case, s: Session) -> bytes:
    first, _ = _inputs(case, s)
    return _ct(s) if case.name == "C_DecryptUpdate" else first


# --- the sequences --------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=str)
def test_size_query_then_same_call_gets_its_output(s, case):
    case.start(s)
    data = _right_input(case, s)
    rv, n = _size_query(case, s, data)
    assert (rv == CKR.OK and n[0] > 0) or case.name == "C_DecryptUpdate"
    out = _buf(s, n[0])
    assert case.call(s, data, out, n) == CKR.OK
    assert case.check(s, data, _out(s, out, n))
    if case.finishes:
        assert _ended(case, s)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_size_query_then_other_input_is_computed_afresh(s, case):
    """The same function with another input gets the output of that input: the size
    query had no effect. Decryption's other input is garbage: never CKR_OK."""
    case.start(s)
    first, second = _inputs(case, s)
    if not case.has_input:          # C_*Final: a too-small buffer, then the right one
        n = s.ffi.new("CK_ULONG *", 1)
        assert case.call(s, b"", _buf(s, 1), n) == CKR.BUFFER_TOO_SMALL
        out = _buf(s, n[0])
        assert case.call(s, b"", out, n) == CKR.OK
        assert case.check(s, b"", _out(s, out, n))
        return
    rv, n = _size_query(case, s, first)
    assert rv == CKR.OK
    out, n2 = _buf(s, 4096), s.ffi.new("CK_ULONG *", 4096)
    rv = case.call(s, second, out, n2)
    garbage = case.name in ("C_Decrypt", "C_DecryptMessage", "C_DecryptMessageNext")
    if garbage:
        assert rv == CKR.ENCRYPTED_DATA_INVALID     # the tag of *this* input was checked
    else:
        assert rv == CKR.OK
        assert case.check(s, second, _out(s, out, n2))


@pytest.mark.parametrize("case", [c for c in CASES if c.other is not None], ids=str)
def test_size_query_then_another_function_never_gets_the_pending_output(s, case):
    case.start(s)
    first, _ = _inputs(case, s)
    rv, _ = _size_query(case, s, first)
    assert rv == CKR.OK
    rv, out = case.other(s)
    assert case.other_ok(s, rv, out), (hex(rv), out)
    if rv == CKR.OPERATION_ACTIVE:       # an error: the operation has ended (§5.2)
        assert _ended(case, s)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_null_length_pointer_ends_the_operation(s, case):
    case.start(s)
    data = _right_input(case, s)
    assert case.call(s, data, _buf(s, 4096), s.ffi.NULL) == CKR.ARGUMENTS_BAD
    if case.stateless:
        return
    if case.message:
        # a message-based operation outlives a failed message (only C_Message*Final ends
        # it)
        assert case.reinit(s) == CKR.OPERATION_ACTIVE
        return
    assert _ended(case, s)


# --- the sequences of the issue, one by one ---------------------------------------------------------
def test_gcm_decrypt_update_size_query_then_final_checks_the_tag(s):
    _dec_init(s)
    n = s.ffi.new("CK_ULONG *", 0)
    assert s.fl.C_DecryptUpdate(s.h, bytes(32), 32, s.ffi.NULL, n) == CKR.OK
    out, n = _buf(s, 64), s.ffi.new("CK_ULONG *", 64)
    assert s.fl.C_DecryptFinal(s.h, out, n) != CKR.OK
    # fed for real, the garbage fails the tag check
    _dec_init(s)
    n[0] = 64
    assert s.fl.C_DecryptUpdate(s.h, bytes(32), 32, out, n) == CKR.OK and n[0] == 0
    n[0] = 64
    assert s.fl.C_DecryptFinal(s.h, out, n) == CKR.ENCRYPTED_DATA_INVALID


def test_null_length_pointer_then_init_and_digest(s):
    _enc_init(s)
    assert s.fl.C_Encrypt(s.h, PLAIN, 32, _buf(s, 64), s.ffi.NULL) == CKR.ARGUMENTS_BAD
    assert s.fl.C_EncryptInit(s.h, s.gcm(), s.aes) == CKR.OK
    _digest_init(s)
    assert s.fl.C_Digest(s.h, b"a", 1, _buf(s, 64), s.ffi.NULL) == CKR.ARGUMENTS_BAD
    n = s.ffi.new("CK_ULONG *", 64)
    assert s.fl.C_Digest(s.h, b"a", 1, _buf(s, 64), n) == CKR.OPERATION_NOT_INITIALIZED
    # a NULL data pointer with a length ends it as well
    _digest_init(s)
    assert s.fl.C_DigestUpdate(s.h, s.ffi.NULL, 5) == CKR.ARGUMENTS_BAD
    assert s.fl.C_DigestFinal(s.h, _buf(s, 64), n) == CKR.OPERATION_NOT_INITIALIZED


@pytest.mark.parametrize("first", ["update", "digest_key"])
def test_one_shot_after_update_is_operation_active_and_ends(s, first):
    _digest_init(s)
    if first == "update":
        assert s.fl.C_DigestUpdate(s.h, b"abc", 3) == CKR.OK
    else:
        assert s.fl.C_DigestKey(s.h, s.targets[0]) == CKR.OK
    n = s.ffi.new("CK_ULONG *", 64)
    assert s.fl.C_Digest(s.h, b"abc", 3, _buf(s, 64), n) == CKR.OPERATION_ACTIVE
    assert s.fl.C_DigestFinal(s.h, _buf(s, 64), n) == CKR.OPERATION_NOT_INITIALIZED


def test_verify_after_update_is_operation_active_and_ends(s):
    hmac_key = s.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
                         (CKA.VALUE, b"k" * 32), (CKA.VERIFY, True)])
    assert s.fl.C_VerifyInit(s.h, s.mech(CKM.SHA256_HMAC), hmac_key) == CKR.OK
    assert s.fl.C_VerifyUpdate(s.h, b"abc", 3) == CKR.OK
    assert s.fl.C_Verify(s.h, b"abc", 3, bytes(32), 32) == CKR.OPERATION_ACTIVE
    assert s.fl.C_VerifyFinal(s.h, bytes(32), 32) == CKR.OPERATION_NOT_INITIALIZED


def test_cbc_update_size_queries_feed_nothing(s):
    """CBC: the exact update length is answered without feeding data, so a size query,
    a too-small buffer and the real call give the one right output."""
    iv = s.ffi.new("CK_BYTE[16]", bytes(16))
    s.keep.append(iv)
    assert s.fl.C_EncryptInit(s.h, s.mech(CKM.AES_CBC, iv, 16), s.aes) == CKR.OK
    n = s.ffi.new("CK_ULONG *", 0)
    assert s.fl.C_EncryptUpdate(s.h, b"a" * 20, 20, s.ffi.NULL, n) == CKR.OK and n[0] == 16
    n[0] = 8
    assert s.fl.C_EncryptUpdate(s.h, b"a" * 20, 20, _buf(s, 8), n) == CKR.BUFFER_TOO_SMALL and n[0] == 16
    out = _buf(s, 64)
    n[0] = 64
    assert s.fl.C_EncryptUpdate(s.h, b"a" * 20, 20, out, n) == CKR.OK and n[0] == 16
    n[0] = 64
    assert s.fl.C_EncryptUpdate(s.h, b"b" * 12, 12, out + 16, n) == CKR.OK and n[0] == 16
    n[0] = 0
    assert s.fl.C_EncryptFinal(s.h, s.ffi.NULL, n) == CKR.OK
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(s.aes_value), modes.CBC(bytes(16))).encryptor()
    assert bytes(s.ffi.buffer(out, 32)) == enc.update(b"a" * 20 + b"b" * 12) + enc.finalize()


def test_digest_of_large_input_size_query_compares_input(s):
    """A one-shot input handed over as a view (>= 4 KiB): the pending digest is bound to it."""
    big, other = b"\1" * 10_000, b"\2" * 10_000
    _digest_init(s)
    n = s.ffi.new("CK_ULONG *", 0)
    assert s.fl.C_Digest(s.h, big, len(big), s.ffi.NULL, n) == CKR.OK
    out = _buf(s, 32)
    assert s.fl.C_Digest(s.h, other, len(other), out, n) == CKR.OK
    assert _out(s, out, n) == hashlib.sha256(other).digest()
