"""Child process of tests/abi/test_data_length.py: every data-carrying call with a lying
length (2^31 bytes over a 16-byte buffer) through the real libstrongroom.so.

Run as ``python data_length_child.py MODULE``; prints one JSON line per case:
{"case": name, "rv": the call's CKR, "after": the CKR of the check that the operation
ended (its C_*Init again, or the next call of the message)}. A call that read the buffer
would crash this process or hang: the parent then sees the missing lines.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # tests/ (support)
sys.path.insert(0, str(Path(__file__).resolve().parent))       # tests/abi first: its conftest

from opstate_support import AAD, Session, Template, message_param

from strongroom.pkcs11.constants import CKA, CKK, CKM, CKO, CKR

LIE = 1 << 31


class Module:
    """Just enough of tests/abi/conftest.Module for Session."""

    def __init__(self, path: str) -> None:
        from conftest import Module as Real  # the harness's cdef and function lists

        real = Real(Path(path))
        self.ffi, self.fl, self.fl32 = real.ffi, real.fl, real.fl32
        real.initialize()


def cases(s: Session):
    ffi, fl = s.ffi, s.fl
    small = ffi.new("CK_BYTE[16]")
    out, n = ffi.new("CK_BYTE[64]"), ffi.new("CK_ULONG *", 64)
    hmac = s.create([(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.GENERIC_SECRET),
                     (CKA.VALUE, b"k" * 32), (CKA.SIGN, True), (CKA.VERIFY, True)])

    def enc():
        return fl.C_EncryptInit(s.h, s.gcm(), s.aes)

    def dec():
        return fl.C_DecryptInit(s.h, s.gcm(), s.aes)

    def dig():
        return fl.C_DigestInit(s.h, s.mech(CKM.SHA256))

    def sig():
        return fl.C_SignInit(s.h, s.mech(CKM.SHA256_HMAC), hmac)

    def ver():
        return fl.C_VerifyInit(s.h, s.mech(CKM.SHA256_HMAC), hmac)

    def sign_recover():
        return fl.C_SignRecoverInit(s.h, s.mech(CKM.RSA_PKCS), s.rsa_keys()[0])

    def verify_recover():
        return fl.C_VerifyRecoverInit(s.h, s.mech(CKM.RSA_PKCS), s.rsa_keys()[1])

    yield "C_Encrypt", enc, lambda: fl.C_Encrypt(s.h, small, LIE, out, n), enc
    yield "C_EncryptUpdate", enc, lambda: fl.C_EncryptUpdate(s.h, small, LIE, out, n), enc
    yield "C_Decrypt", dec, lambda: fl.C_Decrypt(s.h, small, LIE, out, n), dec
    yield "C_DecryptUpdate", dec, lambda: fl.C_DecryptUpdate(s.h, small, LIE, out, n), dec
    yield "C_Digest", dig, lambda: fl.C_Digest(s.h, small, LIE, out, n), dig
    yield "C_DigestUpdate", dig, lambda: fl.C_DigestUpdate(s.h, small, LIE), dig
    yield "C_Sign", sig, lambda: fl.C_Sign(s.h, small, LIE, out, n), sig
    yield "C_SignUpdate", sig, lambda: fl.C_SignUpdate(s.h, small, LIE), sig
    yield "C_Verify", ver, lambda: fl.C_Verify(s.h, small, LIE, small, 16), ver
    yield "C_Verify signature", ver, lambda: fl.C_Verify(s.h, small, 16, small, LIE), ver
    yield "C_VerifyUpdate", ver, lambda: fl.C_VerifyUpdate(s.h, small, LIE), ver
    yield "C_VerifyFinal", ver, lambda: fl.C_VerifyFinal(s.h, small, LIE), ver
    yield "C_SignRecover", sign_recover, lambda: fl.C_SignRecover(s.h, small, LIE, out, n), sign_recover
    yield "C_VerifyRecover", verify_recover, lambda: fl.C_VerifyRecover(s.h, small, LIE, out, n), verify_recover

    size = ffi.sizeof("CK_GCM_MESSAGE_PARAMS")

    def msg_enc():
        rv = fl.C_MessageEncryptInit(s.h, s.mech(CKM.AES_GCM), s.aes)
        message_param(s)
        return rv

    def msg_dec():
        rv = fl.C_MessageDecryptInit(s.h, s.mech(CKM.AES_GCM), s.aes)
        message_param(s)
        return rv

    def msg_next_begun(encrypt: bool):
        def begin():
            (msg_enc if encrypt else msg_dec)()
            fn = fl.C_EncryptMessageBegin if encrypt else fl.C_DecryptMessageBegin
            return fn(s.h, s.msg[0], size, AAD, len(AAD))
        return begin

    def next_part(encrypt: bool):
        """After the refusal: the message in progress has ended (the operation has not)."""
        def check():
            fn = fl.C_EncryptMessageNext if encrypt else fl.C_DecryptMessageNext
            n[0] = 64
            rv = fn(s.h, s.msg[0], size, small, 1, out, n, 0)
            (fl.C_MessageEncryptFinal if encrypt else fl.C_MessageDecryptFinal)(s.h)
            return rv
        return check

    def final(encrypt: bool):
        def check():
            return (fl.C_MessageEncryptFinal if encrypt else fl.C_MessageDecryptFinal)(s.h)
        return check

    yield ("C_EncryptMessage", msg_enc,
           lambda: fl.C_EncryptMessage(s.h, s.msg[0], size, AAD, len(AAD), small, LIE, out, n), final(True))
    yield ("C_EncryptMessage AAD", msg_enc,
           lambda: fl.C_EncryptMessage(s.h, s.msg[0], size, small, LIE, small, 16, out, n), final(True))
    yield ("C_DecryptMessage", msg_dec,
           lambda: fl.C_DecryptMessage(s.h, s.msg[0], size, AAD, len(AAD), small, LIE, out, n), final(False))
    yield ("C_EncryptMessageBegin AAD", msg_enc,
           lambda: fl.C_EncryptMessageBegin(s.h, s.msg[0], size, small, LIE), final(True))
    yield ("C_EncryptMessageNext", msg_next_begun(True),
           lambda: fl.C_EncryptMessageNext(s.h, s.msg[0], size, small, LIE, out, n, 0), next_part(True))
    yield ("C_DecryptMessageNext", msg_next_begun(False),
           lambda: fl.C_DecryptMessageNext(s.h, s.msg[0], size, small, LIE, out, n, 1), next_part(False))

    t = Template(ffi, [(CKA.CLASS, CKO.SECRET_KEY), (CKA.KEY_TYPE, CKK.AES)])
    key = ffi.new("CK_OBJECT_HANDLE *")
    yield ("C_UnwrapKey", lambda: CKR.OK,
           lambda: fl.C_UnwrapKey(s.h, s.mech(CKM.AES_KEY_WRAP), s.aes, small, LIE, t.arr, t.count, key), None)
    yield ("C_DecapsulateKey", lambda: CKR.OK,
           lambda: s.fl32.C_DecapsulateKey(s.h, s.mech(CKM.ML_KEM), s.kem_keys()[1], t.arr, t.count,
                                           small, LIE, key), None)


def main() -> int:
    s = Session(Module(sys.argv[1]))
    for name, start, call, after in cases(s):
        s.h = s.open()          # a session of its own: the "after" check leaves an operation active
        assert start() == CKR.OK, name
        rv = call()
        print(json.dumps({"case": name, "rv": int(rv), "after": int(after()) if after else None}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
