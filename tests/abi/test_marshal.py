"""Marshalling through the real module: two-call convention, C_GetAttributeValue codes,
nested template attributes, mechanism parameters, PIN/label handling."""
from __future__ import annotations

import hashlib

import pytest

from strongroom.pkcs11.attributes import encode
from strongroom.pkcs11.constants import CK_UNAVAILABLE_INFORMATION as UNAV
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR, CKU

SO_PIN = b"so-pin-1234"
USER_PIN = b"user-pin-1234"
CKF_RW_SERIAL = 0x2 | 0x4
P256_OID = bytes.fromhex("06082a8648ce3d030107")


class Template:
    """A CK_ATTRIBUTE array whose value buffers stay alive as long as the object."""

    def __init__(self, ffi, pairs):
        self.ffi = ffi
        self.keep = []
        self.arr = ffi.new("CK_ATTRIBUTE[]", max(len(pairs), 1))
        self.count = len(pairs)
        for i, (t, v) in enumerate(pairs):
            self.arr[i].type = t
            if v is None:
                self.arr[i].pValue = ffi.NULL
                self.arr[i].ulValueLen = 0
                continue
            raw = v if isinstance(v, (bytes, bytearray)) else encode(t, v)
            buf = ffi.new("char[]", max(len(raw), 1))
            ffi.memmove(buf, raw, len(raw))
            self.keep.append(buf)
            self.arr[i].pValue = buf
            self.arr[i].ulValueLen = len(raw)


@pytest.fixture
def session(ck):
    ffi, fl = ck.ffi, ck.fl
    count = ffi.new("CK_ULONG *")
    assert fl.C_GetSlotList(0, ffi.NULL, count) == CKR.OK
    slots = ffi.new("CK_SLOT_ID[]", count[0])
    assert fl.C_GetSlotList(0, slots, count) == CKR.OK
    slot = slots[0]
    label = ffi.new("CK_UTF8CHAR[32]", b"abi test".ljust(32, b" "))
    assert fl.C_InitToken(slot, SO_PIN, len(SO_PIN), label) == CKR.OK
    h = ffi.new("CK_SESSION_HANDLE *")
    assert fl.C_OpenSession(slot, CKF_RW_SERIAL, ffi.NULL, ffi.NULL, h) == CKR.OK
    assert fl.C_Login(h[0], CKU.SO, SO_PIN, len(SO_PIN)) == CKR.OK
    assert fl.C_InitPIN(h[0], USER_PIN, len(USER_PIN)) == CKR.OK
    assert fl.C_Logout(h[0]) == CKR.OK
    assert fl.C_Login(h[0], CKU.USER, USER_PIN, len(USER_PIN)) == CKR.OK
    return ck, slot, h[0]


def test_token_info_padding(session):
    ck, slot, _ = session
    ffi = ck.ffi
    ti = ffi.new("CK_TOKEN_INFO *")
    assert ck.fl.C_GetTokenInfo(slot, ti) == CKR.OK
    assert bytes(ffi.buffer(ti.label)) == b"abi test".ljust(32, b" ")
    for field, width in (("manufacturerID", 32), ("model", 16), ("serialNumber", 16), ("utcTime", 16)):
        raw = bytes(ffi.buffer(getattr(ti, field)))
        assert len(raw) == width and b"\x00" not in raw, field
    si = ffi.new("CK_SLOT_INFO *")
    assert ck.fl.C_GetSlotInfo(slot, si) == CKR.OK
    assert len(bytes(ffi.buffer(si.slotDescription))) == 64
    assert b"\x00" not in bytes(ffi.buffer(si.slotDescription))


def test_digest_two_call(session):
    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.SHA256})
    data = b"hello strongroom"
    n = ffi.new("CK_ULONG *")
    assert fl.C_DigestInit(h, mech) == CKR.OK
    assert fl.C_Digest(h, data, len(data), ffi.NULL, n) == CKR.OK           # size query
    assert n[0] == 32
    small = ffi.new("CK_BYTE[8]")
    n[0] = 8
    assert fl.C_Digest(h, data, len(data), small, n) == CKR.BUFFER_TOO_SMALL
    assert n[0] == 32                                                       # still active
    out = ffi.new("CK_BYTE[64]")
    n[0] = 64
    assert fl.C_Digest(h, data, len(data), out, n) == CKR.OK
    assert bytes(ffi.buffer(out, n[0])) == hashlib.sha256(data).digest()
    # the operation is over
    assert fl.C_Digest(h, data, len(data), out, n) == CKR.OPERATION_NOT_INITIALIZED


def test_digest_multipart(session):
    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.SHA384})
    assert fl.C_DigestInit(h, mech) == CKR.OK
    assert fl.C_DigestUpdate(h, b"ab", 2) == CKR.OK
    assert fl.C_DigestUpdate(h, ffi.NULL, 0) == CKR.OK
    n = ffi.new("CK_ULONG *", 48)
    out = ffi.new("CK_BYTE[48]")
    assert fl.C_DigestFinal(h, out, n) == CKR.OK
    assert bytes(out) == hashlib.sha384(b"ab").digest()
    # a NULL pointer with a length is CKR_ARGUMENTS_BAD, and like every error it ends the
    # operation (tests/abi/test_operation_state.py has the rule for every function)
    assert fl.C_DigestInit(h, mech) == CKR.OK
    assert fl.C_DigestUpdate(h, ffi.NULL, 3) == CKR.ARGUMENTS_BAD
    assert fl.C_DigestFinal(h, out, n) == CKR.OPERATION_NOT_INITIALIZED


def _ec_pair(ck, h):
    ffi, fl = ck.ffi, ck.fl
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.EC_KEY_PAIR_GEN})
    pub = Template(ffi, [(CKA.EC_PARAMS, P256_OID), (CKA.VERIFY, True), (CKA.TOKEN, False)])
    priv = Template(ffi, [(CKA.SIGN, True), (CKA.TOKEN, False), (CKA.SENSITIVE, True),
                          (CKA.LABEL, "ec key")])
    hpub, hpriv = ffi.new("CK_OBJECT_HANDLE *"), ffi.new("CK_OBJECT_HANDLE *")
    rv = fl.C_GenerateKeyPair(h, mech, pub.arr, pub.count, priv.arr, priv.count, hpub, hpriv)
    assert rv == CKR.OK, hex(rv)
    return hpub[0], hpriv[0]


def test_sign_two_call_and_verify(session):
    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl
    hpub, hpriv = _ec_pair(ck, h)
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.ECDSA})
    digest = hashlib.sha256(b"m").digest()
    n = ffi.new("CK_ULONG *")
    assert fl.C_SignInit(h, mech, hpriv) == CKR.OK
    assert fl.C_Sign(h, digest, 32, ffi.NULL, n) == CKR.OK
    assert n[0] == 64
    small = ffi.new("CK_BYTE[10]")
    n[0] = 10
    assert fl.C_Sign(h, digest, 32, small, n) == CKR.BUFFER_TOO_SMALL
    assert n[0] == 64
    sig = ffi.new("CK_BYTE[64]")
    assert fl.C_Sign(h, digest, 32, sig, n) == CKR.OK and n[0] == 64
    assert fl.C_VerifyInit(h, mech, hpub) == CKR.OK
    assert fl.C_Verify(h, digest, 32, sig, 64) == CKR.OK
    bad = bytes(sig)[:-1] + bytes([sig[63] ^ 1])
    assert fl.C_VerifyInit(h, mech, hpub) == CKR.OK
    assert fl.C_Verify(h, digest, 32, bad, 64) == CKR.SIGNATURE_INVALID


def _aes_key(ck, h, **extra):
    ffi, fl = ck.ffi, ck.fl
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.AES_KEY_GEN})
    pairs = [(CKA.VALUE_LEN, 32), (CKA.TOKEN, False), (CKA.SENSITIVE, True),
             (CKA.ENCRYPT, True), (CKA.DECRYPT, True), (CKA.LABEL, "aes")]
    pairs += list(extra.get("pairs", []))
    t = Template(ffi, pairs)
    k = ffi.new("CK_OBJECT_HANDLE *")
    rv = fl.C_GenerateKey(h, mech, t.arr, t.count, k)
    assert rv == CKR.OK, hex(rv)
    return k[0]


def test_get_attribute_value_codes(session):
    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl
    key = _aes_key(ck, h)
    # size queries
    t = Template(ffi, [(CKA.LABEL, None), (CKA.CLASS, None)])
    assert fl.C_GetAttributeValue(h, key, t.arr, 2) == CKR.OK
    assert (t.arr[0].ulValueLen, t.arr[1].ulValueLen) == (3, 8)
    # sensitive
    t = Template(ffi, [(CKA.VALUE, None)])
    assert fl.C_GetAttributeValue(h, key, t.arr, 1) == CKR.ATTRIBUTE_SENSITIVE
    assert t.arr[0].ulValueLen == UNAV
    # invalid type for this object
    t = Template(ffi, [(CKA.MODULUS, None)])
    assert fl.C_GetAttributeValue(h, key, t.arr, 1) == CKR.ATTRIBUTE_TYPE_INVALID
    assert t.arr[0].ulValueLen == UNAV
    # too small
    t = Template(ffi, [(CKA.LABEL, b"x")])
    assert fl.C_GetAttributeValue(h, key, t.arr, 1) == CKR.BUFFER_TOO_SMALL
    assert t.arr[0].ulValueLen == UNAV
    # all at once: every attribute is processed, one of the three codes is returned
    t = Template(ffi, [(CKA.LABEL, b"x"), (CKA.VALUE, None), (CKA.MODULUS, None),
                       (CKA.KEY_TYPE, b"\0" * 8), (CKA.ENCRYPT, b"\0")])
    rv = fl.C_GetAttributeValue(h, key, t.arr, 5)
    assert rv in (CKR.ATTRIBUTE_SENSITIVE, CKR.ATTRIBUTE_TYPE_INVALID, CKR.BUFFER_TOO_SMALL)
    assert [t.arr[i].ulValueLen for i in range(3)] == [UNAV, UNAV, UNAV]
    assert t.arr[3].ulValueLen == 8
    assert int.from_bytes(bytes(ffi.buffer(t.arr[3].pValue, 8)), "little") == CKK.AES
    assert t.arr[4].ulValueLen == 1 and bytes(ffi.buffer(t.arr[4].pValue, 1)) == b"\x01"
    # NULL template with a count
    assert fl.C_GetAttributeValue(h, key, ffi.NULL, 1) == CKR.ARGUMENTS_BAD


def test_template_null_value_with_length(session):
    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl
    t = Template(ffi, [(CKA.CLASS, CKO.DATA), (CKA.TOKEN, False), (CKA.VALUE, None)])
    t.arr[2].ulValueLen = 4                                   # NULL pValue, nonzero length
    obj = ffi.new("CK_OBJECT_HANDLE *")
    assert fl.C_CreateObject(h, t.arr, 3, obj) == CKR.ARGUMENTS_BAD
    t.arr[2].ulValueLen = 0
    assert fl.C_CreateObject(h, t.arr, 3, obj) == CKR.OK
    assert fl.C_CreateObject(h, ffi.NULL, 3, obj) == CKR.ARGUMENTS_BAD


def test_data_object_roundtrip_and_find(session):
    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl
    t = Template(ffi, [(CKA.CLASS, CKO.DATA), (CKA.TOKEN, False), (CKA.LABEL, "blob"),
                       (CKA.VALUE, b"\x00\x01\x02payload")])
    obj = ffi.new("CK_OBJECT_HANDLE *")
    assert fl.C_CreateObject(h, t.arr, t.count, obj) == CKR.OK
    out = Template(ffi, [(CKA.VALUE, b"\xff" * 64)])
    assert fl.C_GetAttributeValue(h, obj[0], out.arr, 1) == CKR.OK
    assert bytes(ffi.buffer(out.arr[0].pValue, out.arr[0].ulValueLen)) == b"\x00\x01\x02payload"
    find = Template(ffi, [(CKA.LABEL, "blob")])
    assert fl.C_FindObjectsInit(h, find.arr, 1) == CKR.OK
    found = ffi.new("CK_OBJECT_HANDLE[4]")
    n = ffi.new("CK_ULONG *")
    assert fl.C_FindObjects(h, found, 4, n) == CKR.OK
    assert n[0] == 1 and found[0] == obj[0]
    assert fl.C_FindObjects(h, found, 4, n) == CKR.OK and n[0] == 0
    assert fl.C_FindObjectsFinal(h) == CKR.OK


def test_nested_wrap_template(session):
    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl
    inner = Template(ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.EXTRACTABLE, True)])
    size = ffi.sizeof("CK_ATTRIBUTE")
    key = _aes_key(ck, h, pairs=[(CKA.WRAP, True),
                                 (CKA.WRAP_TEMPLATE, bytes(ffi.buffer(inner.arr, 2 * size)))])
    t = Template(ffi, [(CKA.WRAP_TEMPLATE, None)])
    assert fl.C_GetAttributeValue(h, key, t.arr, 1) == CKR.OK
    assert t.arr[0].ulValueLen == 2 * size
    got = ffi.new("CK_ATTRIBUTE[2]")                           # types and lengths
    t.arr[0].pValue = got
    assert fl.C_GetAttributeValue(h, key, t.arr, 1) == CKR.OK
    assert sorted((got[i].type, got[i].ulValueLen) for i in range(2)) == [
        (CKA.CLASS, 8), (CKA.EXTRACTABLE, 1)]
    bufs = [ffi.new("char[]", got[i].ulValueLen) for i in range(2)]
    for i in range(2):
        got[i].pValue = bufs[i]
    assert fl.C_GetAttributeValue(h, key, t.arr, 1) == CKR.OK
    values = {got[i].type: bytes(ffi.buffer(got[i].pValue, got[i].ulValueLen)) for i in range(2)}
    assert values == {CKA.CLASS: encode(CKA.CLASS, CKO.SECRET_KEY), CKA.EXTRACTABLE: b"\x01"}


def test_gcm_parameter(session):
    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl
    key = _aes_key(ck, h)
    iv = ffi.new("CK_BYTE[12]", b"0123456789ab")
    aad = ffi.new("CK_BYTE[3]", b"hdr")
    params = ffi.new("CK_GCM_PARAMS *", {"pIv": iv, "ulIvLen": 12, "ulIvBits": 96,
                                         "pAAD": aad, "ulAADLen": 3, "ulTagBits": 128})
    mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.AES_GCM, "pParameter": params,
                                      "ulParameterLen": ffi.sizeof("CK_GCM_PARAMS")})
    assert fl.C_EncryptInit(h, mech, key) == CKR.OK
    n = ffi.new("CK_ULONG *")
    assert fl.C_Encrypt(h, b"secret", 6, ffi.NULL, n) == CKR.OK
    assert n[0] == 6 + 16
    ct = ffi.new("CK_BYTE[]", n[0])
    assert fl.C_Encrypt(h, b"secret", 6, ct, n) == CKR.OK
    assert fl.C_DecryptInit(h, mech, key) == CKR.OK
    pt = ffi.new("CK_BYTE[64]")
    m = ffi.new("CK_ULONG *", 64)
    assert fl.C_Decrypt(h, ct, n[0], pt, m) == CKR.OK
    assert bytes(ffi.buffer(pt, m[0])) == b"secret"
    # wrong struct size, NULL parameter with a length
    mech.ulParameterLen = 7
    assert fl.C_EncryptInit(h, mech, key) == CKR.MECHANISM_PARAM_INVALID
    mech.pParameter, mech.ulParameterLen = ffi.NULL, 48
    assert fl.C_EncryptInit(h, mech, key) == CKR.ARGUMENTS_BAD


def test_random(session):
    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl
    buf = ffi.new("CK_BYTE[32]")
    assert fl.C_GenerateRandom(h, buf, 32) == CKR.OK
    assert bytes(buf) != b"\0" * 32
    assert fl.C_GenerateRandom(h, ffi.NULL, 32) == CKR.ARGUMENTS_BAD


def test_session_info(session):
    ck, slot, h = session
    si = ck.ffi.new("CK_SESSION_INFO *")
    assert ck.fl.C_GetSessionInfo(h, si) == CKR.OK
    assert si.slotID == slot and si.flags & 0x6 == 0x6 and si.state == 3   # RW user


def test_internal_error_is_general_error_and_logged(session, monkeypatch, home):
    """A non-CKRError exception in the core never crosses the ABI; the log names the
    exception type but never its message (which could carry argument values)."""
    from strongroom.token.inprocess import APPLICATION

    ck, _, h = session
    ffi, fl = ck.ffi, ck.fl

    secret = "pin-" + str(7 * 123457)          # a runtime value, not in any source line

    def boom(*_a):
        raise ValueError(secret)

    monkeypatch.setattr(APPLICATION.sessions, "get_session_info", boom)
    assert fl.C_GetSessionInfo(h, ffi.new("CK_SESSION_INFO *")) == CKR.GENERAL_ERROR
    for handler in __import__("logging").getLogger("strongroom").handlers:
        handler.flush()
    text = (home / "strongroom.log").read_text()
    assert "ValueError" in text and secret not in text
