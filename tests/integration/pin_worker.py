"""A PKCS#11 host process for the PIN-attempt tests: the real libstrongroom.so loaded with
cffi (ABI mode), driven line by line.

Run as ``python pin_worker.py MODULE``; reads one JSON command per line on stdin, answers
one JSON line on stdout (``{"rv": CKR code, ...}``). Before a PIN-checking call it first
writes ``{"entering": true}``, so the parent knows the call is about to start (the kill
tests time their SIGKILL from there). Commands:

  {"op": "init"}                               C_Initialize
  {"op": "open", "label": L}                   find the token labelled L, C_OpenSession (R/W)
  {"op": "login", "user": CKU, "pin": P}       C_Login (CKU 0 SO, 1 USER, 2 CONTEXT_SPECIFIC)
  {"op": "logout"}                             C_Logout
  {"op": "setpin", "old": P, "new": Q}         C_SetPIN
  {"op": "inittoken", "so_pin": P, "label": L} C_CloseAllSessions + C_InitToken on that slot
  {"op": "ctx_setup"}                          an ALWAYS_AUTHENTICATE EC key + C_SignInit
  {"op": "flags"}                              C_GetTokenInfo flags
  {"op": "initpin", "pin": P}                  C_InitPIN (the SO logged in)
  {"op": "create", "label": L}                 a private token AES key -> {"handle": h}
  {"op": "destroy", "handle": h}               C_DestroyObject
  {"op": "find", "label": L}                   C_FindObjects* by label -> {"handle": h}
"""
from __future__ import annotations

import json
import os
import sys

# Warm the imports the module's KDF needs, so that a parent watching this process's
# memory sees scrypt's allocation and not the import of pyca's bindings.
import cryptography.hazmat.primitives.ciphers.aead
import cryptography.hazmat.primitives.kdf.scrypt  # noqa: F401
from cffi import FFI

from strongroom.abi import build_ffi
from strongroom.pkcs11.attributes import encode
from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO

CKF_RW_SERIAL = 0x2 | 0x4
P256_OID = bytes.fromhex("06082a8648ce3d030107")


class Host:
    def __init__(self, module: str) -> None:
        self.ffi = FFI()
        self.ffi.cdef(build_ffi.cdef_text())
        self.ffi.cdef("CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);")
        self.lib = self.ffi.dlopen(module)
        pp = self.ffi.new("CK_FUNCTION_LIST_PTR *")
        assert self.lib.C_GetFunctionList(pp) == 0
        self.fl = pp[0]
        self.slot = self.session = None
        self.keep: list = []

    def _pin(self, text: str):
        raw = text.encode()
        return self.ffi.new("char[]", raw), len(raw)

    def init(self, cmd: dict) -> dict:
        return {"rv": self.fl.C_Initialize(self.ffi.NULL)}

    def open(self, cmd: dict) -> dict:
        ffi, fl = self.ffi, self.fl
        count = ffi.new("CK_ULONG *")
        fl.C_GetSlotList(1, ffi.NULL, count)
        slots = ffi.new("CK_SLOT_ID[]", count[0])
        fl.C_GetSlotList(1, slots, count)
        info = ffi.new("CK_TOKEN_INFO *")
        for i in range(count[0]):
            if fl.C_GetTokenInfo(slots[i], info) == 0 and \
                    bytes(info.label).rstrip(b" ").decode() == cmd["label"]:
                self.slot = slots[i]
                break
        else:
            return {"rv": -1}
        h = ffi.new("CK_SESSION_HANDLE *")
        rv = fl.C_OpenSession(self.slot, CKF_RW_SERIAL, ffi.NULL, ffi.NULL, h)
        self.session = h[0]
        return {"rv": rv}

    def login(self, cmd: dict) -> dict:
        pin, n = self._pin(cmd["pin"])
        _entering()
        return {"rv": self.fl.C_Login(self.session, cmd["user"], pin, n)}

    def logout(self, cmd: dict) -> dict:
        return {"rv": self.fl.C_Logout(self.session)}

    def setpin(self, cmd: dict) -> dict:
        old, n_old = self._pin(cmd["old"])
        new, n_new = self._pin(cmd["new"])
        _entering()
        return {"rv": self.fl.C_SetPIN(self.session, old, n_old, new, n_new)}

    def inittoken(self, cmd: dict) -> dict:
        self.fl.C_CloseAllSessions(self.slot)
        pin, n = self._pin(cmd["so_pin"])
        label = self.ffi.new("CK_UTF8CHAR[32]", cmd["label"].encode().ljust(32, b" "))
        _entering()
        return {"rv": self.fl.C_InitToken(self.slot, pin, n, label)}

    def ctx_setup(self, cmd: dict) -> dict:
        """Needs the user logged in: a session EC key that must be re-authenticated for
        every use (CKA_ALWAYS_AUTHENTICATE), and a signature started with it."""
        ffi, fl = self.ffi, self.fl
        out, n = ffi.new("char[128]"), ffi.new("CK_ULONG *", 128)
        fl.C_Sign(self.session, bytes(32), 32, out, n)   # ends an earlier operation, if any
        pairs = [(CKA.CLASS, CKO.PRIVATE_KEY), (CKA.KEY_TYPE, CKK.EC), (CKA.EC_PARAMS, P256_OID),
                 (CKA.VALUE, (7).to_bytes(32, "big")), (CKA.SIGN, True), (CKA.PRIVATE, True),
                 (CKA.ALWAYS_AUTHENTICATE, True)]
        arr = ffi.new("CK_ATTRIBUTE[]", len(pairs))
        for i, (t, v) in enumerate(pairs):
            raw = v if isinstance(v, bytes) else encode(t, v)
            buf = ffi.new("char[]", raw)
            self.keep.append(buf)
            arr[i].type, arr[i].pValue, arr[i].ulValueLen = t, buf, len(raw)
        key = ffi.new("CK_OBJECT_HANDLE *")
        rv = fl.C_CreateObject(self.session, arr, len(pairs), key)
        if rv:
            return {"rv": rv}
        mech = ffi.new("CK_MECHANISM *", {"mechanism": CKM.ECDSA})
        return {"rv": fl.C_SignInit(self.session, mech, key[0])}

    def initpin(self, cmd: dict) -> dict:
        pin, n = self._pin(cmd["pin"])
        return {"rv": self.fl.C_InitPIN(self.session, pin, n)}

    def create(self, cmd: dict) -> dict:
        ffi = self.ffi
        pairs = [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES), (CKA.VALUE, os.urandom(32)),
                 (CKA.TOKEN, True), (CKA.PRIVATE, True), (CKA.LABEL, cmd["label"])]
        arr = ffi.new("CK_ATTRIBUTE[]", len(pairs))
        keep = []
        for i, (t, v) in enumerate(pairs):
            raw = v if isinstance(v, bytes) else encode(t, v)
            keep.append(ffi.new("char[]", raw))
            arr[i].type, arr[i].pValue, arr[i].ulValueLen = t, keep[-1], len(raw)
        out = ffi.new("CK_OBJECT_HANDLE *")
        rv = self.fl.C_CreateObject(self.session, arr, len(pairs), out)
        return {"rv": rv, "handle": int(out[0])}

    def destroy(self, cmd: dict) -> dict:
        return {"rv": self.fl.C_DestroyObject(self.session, cmd["handle"])}

    def find(self, cmd: dict) -> dict:
        """The handle of the one object labelled L (handles of private objects do not
        survive a logout: they are found again)."""
        ffi, fl = self.ffi, self.fl
        raw = cmd["label"].encode()
        value = ffi.new("char[]", raw)
        tmpl = ffi.new("CK_ATTRIBUTE[1]")
        tmpl[0].type, tmpl[0].pValue, tmpl[0].ulValueLen = CKA.LABEL, value, len(raw)
        found, count = ffi.new("CK_OBJECT_HANDLE[2]"), ffi.new("CK_ULONG *")
        rv = fl.C_FindObjectsInit(self.session, tmpl, 1)
        if rv == 0:
            rv = fl.C_FindObjects(self.session, found, 2, count)
            fl.C_FindObjectsFinal(self.session)
        if rv == 0 and count[0] != 1:
            rv = -1
        return {"rv": rv, "handle": int(found[0])}

    def flags(self, cmd: dict) -> dict:
        info = self.ffi.new("CK_TOKEN_INFO *")
        rv = self.fl.C_GetTokenInfo(self.slot, info)
        return {"rv": rv, "flags": int(info.flags)}


def _entering() -> None:
    print(json.dumps({"entering": True}), flush=True)


def main() -> int:
    host = Host(sys.argv[1])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        print(json.dumps(getattr(host, cmd["op"])(cmd)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
