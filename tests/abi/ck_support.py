"""A logged-in session of a module under test, for tests that build C structs with cffi:
``Ck`` (mechanisms, objects, attributes, wrap/unwrap), ``Template`` (a CK_ATTRIBUTE array
that keeps its buffers alive) and ``open_user_session`` (a fresh token, its PINs set)."""
from __future__ import annotations

import os

from strongroom.pkcs11.attributes import encode
from strongroom.pkcs11.constants import CKA, CKK, CKO, CKR, CKU

SO_PIN = b"so-pin-1234"
USER_PIN = b"user-pin-1234"
CKF_RW_SERIAL = 0x2 | 0x4
P256_OID = bytes.fromhex("06082a8648ce3d030107")
CKG_NO_GENERATE, CKG_GENERATE_RANDOM = 0, 3


class Template:
    """A CK_ATTRIBUTE array whose value buffers stay alive as long as the object."""

    def __init__(self, ffi, pairs):
        self.keep = []
        self.arr = ffi.new("CK_ATTRIBUTE[]", max(len(pairs), 1))
        self.count = len(pairs)
        for i, (t, v) in enumerate(pairs):
            if isinstance(v, tuple):           # a nested template: a CK_ATTRIBUTE array
                inner = Template(ffi, list(v))
                self.keep.append(inner)
                raw = bytes(ffi.buffer(inner.arr, inner.count * ffi.sizeof("CK_ATTRIBUTE")))
            else:
                raw = v if isinstance(v, (bytes, bytearray)) else encode(t, v)
            buf = ffi.new("char[]", max(len(raw), 1))
            ffi.memmove(buf, raw, len(raw))
            self.keep.append(buf)
            self.arr[i].type, self.arr[i].pValue, self.arr[i].ulValueLen = t, buf, len(raw)


class Ck:
    def __init__(self, module, h):
        self.ffi, self.fl, self.fl32, self.h = module.ffi, module.fl, module.fl32, h

    def mech(self, mtype, param=None, size=None):
        m = self.ffi.new("CK_MECHANISM *", {"mechanism": mtype})
        if param is not None:
            m.pParameter = param
            m.ulParameterLen = size if size is not None else self.ffi.sizeof(param[0])
        return m

    def create(self, pairs):
        t = Template(self.ffi, pairs)
        out = self.ffi.new("CK_OBJECT_HANDLE *")
        rv = self.fl.C_CreateObject(self.h, t.arr, t.count, out)
        assert rv == CKR.OK, hex(rv)
        return out[0]

    def aes(self, value=None, **attrs):
        pairs = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES),
                 (CKA.VALUE, value or os.urandom(32))]
        pairs += [(getattr(CKA, k.upper()), v) for k, v in attrs.items()]
        return self.create(pairs)

    def get(self, obj, cka, size=256):
        buf = self.ffi.new("char[]", size)
        t = self.ffi.new("CK_ATTRIBUTE *", {"type": cka, "pValue": buf, "ulValueLen": size})
        rv = self.fl.C_GetAttributeValue(self.h, obj, t, 1)
        assert rv == CKR.OK, hex(rv)
        return bytes(self.ffi.buffer(buf, t.ulValueLen))

    def wrap(self, mech, wrapping, key):
        n = self.ffi.new("CK_ULONG *")
        rv = self.fl.C_WrapKey(self.h, mech, wrapping, key, self.ffi.NULL, n)
        if rv != CKR.OK:
            return rv, None
        out = self.ffi.new("char[]", n[0])
        rv = self.fl.C_WrapKey(self.h, mech, wrapping, key, out, n)
        return rv, bytes(self.ffi.buffer(out, n[0]))

    def unwrap(self, mech, unwrapping, wrapped, pairs):
        t = Template(self.ffi, pairs)
        out = self.ffi.new("CK_OBJECT_HANDLE *")
        rv = self.fl.C_UnwrapKey(self.h, mech, unwrapping, wrapped, len(wrapped), t.arr, t.count, out)
        return rv, out[0]


def open_user_session(module, user: bool = True) -> int:
    ffi, fl = module.ffi, module.fl
    count = ffi.new("CK_ULONG *")
    assert fl.C_GetSlotList(0, ffi.NULL, count) == CKR.OK
    slots = ffi.new("CK_SLOT_ID[]", count[0])
    assert fl.C_GetSlotList(0, slots, count) == CKR.OK
    label = ffi.new("CK_UTF8CHAR[32]", b"keyops".ljust(32, b" "))
    assert fl.C_InitToken(slots[0], SO_PIN, len(SO_PIN), label) == CKR.OK
    h = ffi.new("CK_SESSION_HANDLE *")
    assert fl.C_OpenSession(slots[0], CKF_RW_SERIAL, ffi.NULL, ffi.NULL, h) == CKR.OK
    assert fl.C_Login(h[0], CKU.SO, SO_PIN, len(SO_PIN)) == CKR.OK
    assert fl.C_InitPIN(h[0], USER_PIN, len(USER_PIN)) == CKR.OK
    if user:
        assert fl.C_Logout(h[0]) == CKR.OK
        assert fl.C_Login(h[0], CKU.USER, USER_PIN, len(USER_PIN)) == CKR.OK
    return h[0]


READABLE = [(CKA.SENSITIVE, False), (CKA.EXTRACTABLE, True)]
