"""Rules that were too loose (issue 10 item 6), through the real libstrongroom.so:

* CKA_ALLOWED_MECHANISMS: absent allows every mechanism, an empty list allows none;
* CKM_EDDSA with an Ed448 key needs CK_EDDSA_PARAMS (v3.0 Current Mechanisms, section "EdDSA");
* an operation whose key object is destroyed -- from this session, another session of
  this process, or another process -- fails at its next call with CKR_KEY_HANDLE_INVALID
  and ends (docs/design.md "Operation state").
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed448
from opstate_support import Session, Template, message_param

from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR, CKU

HERE = Path(__file__).resolve().parent
ED448_OID = bytes.fromhex("06032b6571")
ED25519_OID = bytes.fromhex("06032b6570")


@pytest.fixture
def s(ck) -> Session:
    return Session(ck)


def _aes(s: Session, **extra) -> int:
    pairs = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE, b"k" * 32),
             (CKA.ENCRYPT, True), (CKA.WRAP, True)]
    pairs += [(getattr(CKA, k.upper()), v) for k, v in extra.items()]
    return s.create(pairs)


# --- CKA_ALLOWED_MECHANISMS ------------------------------------------------------------------------
def test_empty_allowed_mechanisms_allow_none(s):
    key = _aes(s, allowed_mechanisms=())
    assert s.fl.C_EncryptInit(s.h, s.gcm(), key) == CKR.MECHANISM_INVALID
    # C_WrapKey makes the same key checks (token/keyops.py through crypto.check_key)
    n = s.ffi.new("CK_ULONG *", 0)
    rv = s.fl.C_WrapKey(s.h, s.mech(CKM.AES_KEY_WRAP), key, s.targets[0], s.ffi.NULL, n)
    assert rv == CKR.MECHANISM_INVALID
    # it reads back as an empty list, not as "no such attribute"
    t = s.ffi.new("CK_ATTRIBUTE *", {"type": CKA.ALLOWED_MECHANISMS, "pValue": s.ffi.NULL})
    assert s.fl.C_GetAttributeValue(s.h, key, t, 1) == CKR.OK and t.ulValueLen == 0


def test_absent_allowed_mechanisms_allow_all_and_a_list_only_its_own(s):
    free = _aes(s)
    assert s.fl.C_EncryptInit(s.h, s.gcm(), free) == CKR.OK
    t = s.ffi.new("CK_ATTRIBUTE *", {"type": CKA.ALLOWED_MECHANISMS, "pValue": s.ffi.NULL})
    assert s.fl.C_GetAttributeValue(s.h, free, t, 1) == CKR.ATTRIBUTE_TYPE_INVALID
    only_gcm = _aes(s, allowed_mechanisms=(CKM.AES_GCM,))
    s2 = s.open()
    assert s.fl.C_EncryptInit(s2, s.gcm(), only_gcm) == CKR.OK
    iv = s.ffi.new("CK_BYTE[16]")
    s.keep.append(iv)
    s3 = s.open()
    assert s.fl.C_EncryptInit(s3, s.mech(CKM.AES_CBC_PAD, iv, 16), only_gcm) == CKR.MECHANISM_INVALID


# --- CKM_EDDSA and Ed448 -----------------------------------------------------------------------------
def _edwards_pair(s: Session, oid: bytes) -> tuple[int, int]:
    pub_t = Template(s.ffi, [(CKA.EC_PARAMS, oid), (CKA.VERIFY, True)])
    priv_t = Template(s.ffi, [(CKA.SIGN, True)])
    pub, priv = s.ffi.new("CK_OBJECT_HANDLE *"), s.ffi.new("CK_OBJECT_HANDLE *")
    rv = s.fl.C_GenerateKeyPair(s.h, s.mech(CKM.EC_EDWARDS_KEY_PAIR_GEN), pub_t.arr, pub_t.count,
                                priv_t.arr, priv_t.count, pub, priv)
    assert rv == CKR.OK, hex(rv)
    return pub[0], priv[0]


def _point(s: Session, pub: int) -> bytes:
    buf = s.ffi.new("char[128]")
    t = s.ffi.new("CK_ATTRIBUTE *", {"type": CKA.EC_POINT, "pValue": buf, "ulValueLen": 128})
    assert s.fl.C_GetAttributeValue(s.h, pub, t, 1) == CKR.OK
    return bytes(s.ffi.buffer(buf, t.ulValueLen))[2:]      # DER OCTET STRING -> raw key


def test_eddsa_on_ed448_needs_its_parameter(s):
    pub, priv = _edwards_pair(s, ED448_OID)
    assert s.fl.C_SignInit(s.h, s.mech(CKM.EDDSA), priv) == CKR.MECHANISM_PARAM_INVALID
    assert s.fl.C_VerifyInit(s.h, s.mech(CKM.EDDSA), pub) == CKR.MECHANISM_PARAM_INVALID
    params = s.ffi.new("CK_EDDSA_PARAMS *", {"phFlag": 0, "ulContextDataLen": 0})
    assert s.fl.C_SignInit(s.h, s.mech(CKM.EDDSA, params), priv) == CKR.OK
    sig, n = s.ffi.new("CK_BYTE[114]"), s.ffi.new("CK_ULONG *", 114)
    assert s.fl.C_Sign(s.h, b"msg", 3, sig, n) == CKR.OK
    ed448.Ed448PublicKey.from_public_bytes(_point(s, pub)).verify(bytes(sig), b"msg")
    # Ed25519 keeps its optional parameter: none means pure Ed25519
    _, priv25519 = _edwards_pair(s, ED25519_OID)
    assert s.fl.C_SignInit(s.h, s.mech(CKM.EDDSA), priv25519) == CKR.OK


# --- keys destroyed under an active operation -------------------------------------------------------
def _hmac_key(s: Session, token: bool = False) -> int:
    return s.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
                     (CKA.VALUE, b"k" * 32), (CKA.SIGN, True), (CKA.VERIFY, True),
                     (CKA.TOKEN, token)])


def test_verify_after_its_key_is_destroyed_fails_and_ends(s):
    key = _hmac_key(s)
    assert s.fl.C_VerifyInit(s.h, s.mech(CKM.SHA256_HMAC), key) == CKR.OK
    assert s.fl.C_VerifyUpdate(s.h, b"part", 4) == CKR.OK
    assert s.fl.C_DestroyObject(s.h, key) == CKR.OK
    assert s.fl.C_VerifyUpdate(s.h, b"part", 4) == CKR.KEY_HANDLE_INVALID
    assert s.fl.C_VerifyFinal(s.h, bytes(32), 32) == CKR.OPERATION_NOT_INITIALIZED
    # the same for a one-shot C_Verify
    key = _hmac_key(s)
    assert s.fl.C_VerifyInit(s.h, s.mech(CKM.SHA256_HMAC), key) == CKR.OK
    assert s.fl.C_DestroyObject(s.h, key) == CKR.OK
    assert s.fl.C_Verify(s.h, b"m", 1, bytes(32), 32) == CKR.KEY_HANDLE_INVALID


def test_other_sessions_operations_and_pending_outputs_are_revoked(s):
    key = _hmac_key(s, token=True)
    other = s.open()
    assert s.fl.C_SignInit(other, s.mech(CKM.SHA256_HMAC), key) == CKR.OK
    n = s.ffi.new("CK_ULONG *", 0)
    assert s.fl.C_Sign(other, b"m", 1, s.ffi.NULL, n) == CKR.OK and n[0] == 32   # a size query
    assert s.fl.C_MessageEncryptInit(s.h, s.mech(CKM.AES_GCM), s.aes) == CKR.OK
    assert s.fl.C_DestroyObject(s.h, key) == CKR.OK
    out = s.ffi.new("CK_BYTE[32]")
    assert s.fl.C_Sign(other, b"m", 1, out, n) == CKR.KEY_HANDLE_INVALID      # not the pending MAC
    assert s.fl.C_Sign(other, b"m", 1, out, n) == CKR.OPERATION_NOT_INITIALIZED
    # the message-based operation on another key is untouched; on a destroyed key it ends
    assert s.fl.C_MessageEncryptFinal(s.h) == CKR.OK
    aes = _aes(s, decrypt=True)
    assert s.fl.C_MessageEncryptInit(s.h, s.mech(CKM.AES_GCM), aes) == CKR.OK
    p, size = message_param(s)
    assert s.fl.C_DestroyObject(s.h, aes) == CKR.OK
    n[0] = 32
    assert s.fl.C_EncryptMessage(s.h, p, size, b"", 0, b"m", 1, out, n) == CKR.KEY_HANDLE_INVALID
    assert s.fl.C_MessageEncryptFinal(s.h) == CKR.OPERATION_NOT_INITIALIZED


_DESTROYER = """
import sys
sys.path.insert(0, {abi!r})
from conftest import Module
from pathlib import Path
m = Module(Path({so!r}))
m.initialize()
ffi, fl = m.ffi, m.fl
h = ffi.new("CK_SESSION_HANDLE *")
assert fl.C_OpenSession({slot}, 6, ffi.NULL, ffi.NULL, h) == 0
assert fl.C_Login(h[0], {user}, b"user-pin-1234", 13) == 0
# handles belong to each application: this process finds the key itself
want = ffi.new("CK_OBJECT_CLASS *", 4)          # CKO_SECRET_KEY, the token's only one
tmpl = ffi.new("CK_ATTRIBUTE[1]")
tmpl[0].type, tmpl[0].pValue, tmpl[0].ulValueLen = 0, want, ffi.sizeof("CK_OBJECT_CLASS")
assert fl.C_FindObjectsInit(h[0], tmpl, 1) == 0
found, count = ffi.new("CK_OBJECT_HANDLE[2]"), ffi.new("CK_ULONG *")
assert fl.C_FindObjects(h[0], found, 2, count) == 0 and count[0] == 1
assert fl.C_FindObjectsFinal(h[0]) == 0
print(fl.C_DestroyObject(h[0], found[0]))
m.finalize()
"""


def test_token_key_destroyed_by_another_process(s, so_path):
    key = _hmac_key(s, token=True)
    assert s.fl.C_SignInit(s.h, s.mech(CKM.SHA256_HMAC), key) == CKR.OK
    assert s.fl.C_SignUpdate(s.h, b"part", 4) == CKR.OK
    code = _DESTROYER.format(abi=str(HERE), so=str(so_path), slot=s.slot, key=key, user=int(CKU.USER))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "0", proc.stderr
    assert s.fl.C_SignUpdate(s.h, b"part", 4) == CKR.KEY_HANDLE_INVALID
    n = s.ffi.new("CK_ULONG *", 64)
    assert s.fl.C_SignFinal(s.h, s.ffi.new("CK_BYTE[64]"), n) == CKR.OPERATION_NOT_INITIALIZED
