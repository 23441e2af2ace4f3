"""A minimal Python host of libstrongroom.so for test_memory_residue.py (run as a script).

It reads its secrets (SO PIN, user PIN, an EC P-256 scalar, an AES key, RSA components)
from stdin straight into ``bytearray``s (``os.readv``: no intermediate ``bytes``), hands
them to the module through cffi buffers that point into those bytearrays, and zeroes the
bytearrays as soon as each call has returned -- so every copy left in this process after
that is one the module made. At each checkpoint it writes ``<name>\\n`` to stdout and
waits for one byte on stdin while the parent scans its memory.

Steps: C_Initialize, C_InitToken, SO login, C_InitPIN, C_Logout, C_SetPIN, user login, C_CreateObject
of a private EC key, an AES key and an RSA key (token objects, private, sensitive), one
refused C_CreateObject of another AES key (CKR_TEMPLATE_INCONSISTENT), ECDSA
sign, AES-GCM encrypt (token key and a session-object copy made with C_CopyObject),
RSA PKCS#1 v1.5 SHA-256 sign, C_DestroyObject of a used AES key (checkpoint ``destroy``),
C_FindObjects by label, then checkpoint ``logout`` after C_Logout and ``finalize`` after
C_Finalize. It never calls gc.collect(): an ordinary host does not.
"""
from __future__ import annotations

import os
import sys

from cffi import FFI

from strongroom.abi import build_ffi
from strongroom.modules import module_path

CKR_OK, CKR_TEMPLATE_INCONSISTENT = 0, 0xD1
CKU_SO, CKU_USER = 0, 1
CKF_RW_SERIAL = 0x6
CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_VALUE = 0x0, 0x1, 0x2, 0x3, 0x11
CKA_KEY_TYPE, CKA_SENSITIVE, CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN = 0x100, 0x103, 0x104, 0x105, 0x108
CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT = 0x120, 0x122, 0x123
CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT = 0x124, 0x125, 0x126, 0x127, 0x128
CKA_VALUE_LEN, CKA_EC_PARAMS = 0x161, 0x180
CKO_PRIVATE_KEY, CKO_SECRET_KEY = 3, 4
CKK_RSA, CKK_EC, CKK_AES = 0, 3, 0x1F
CKM_SHA256_RSA_PKCS, CKM_ECDSA, CKM_AES_GCM = 0x40, 0x1041, 0x1087
P256_PARAMS = bytes.fromhex("06082a8648ce3d030107")

#: (name, length) of the secrets on stdin, in order (the RSA parts are fixed-size for 2048 bits)
SECRETS = (("so_pin", 16), ("first_user_pin", 16), ("user_pin", 16), ("ec", 32), ("aes", 32), ("rsa_n", 256),
           ("rsa_d", 256), ("rsa_p", 128), ("rsa_q", 128), ("rsa_dp", 128), ("rsa_dq", 128),
           ("rsa_qinv", 128), ("aes_refused", 32), ("aes_destroyed", 32), ("canary", 32))

ffi = FFI()
ffi.cdef(build_ffi.cdef_text())
ffi.cdef("CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);")
keep: list = []          # cdata kept alive until the call returns


def read_secrets() -> dict[str, bytearray]:
    out = {}
    for name, n in SECRETS:
        buf = bytearray(n)
        got = 0
        while got < n:
            got += os.readv(0, [memoryview(buf)[got:]])
        out[name] = buf
    return out


def checkpoint(name: str) -> None:
    os.write(1, name.encode() + b"\n")
    if os.read(0, 1) != b"g":
        sys.exit(3)


def check(rv: int, what: str) -> None:
    if rv != CKR_OK:
        sys.stderr.write(f"{what} failed: {rv:#x}\n")
        sys.exit(2)


def ulong(v: int):
    c = ffi.new("CK_ULONG *", v)
    keep.append(c)
    return c, ffi.sizeof("CK_ULONG")


def bbool(v: bool):
    c = ffi.new("CK_BBOOL *", 1 if v else 0)
    keep.append(c)
    return c, 1


def raw(b) -> tuple:
    """A pointer into ``b`` itself (bytearray: no copy) or into a new C copy (bytes)."""
    c = ffi.from_buffer(b) if isinstance(b, bytearray) else ffi.new("char[]", bytes(b))
    keep.append(c)
    return c, len(b)


def template(items: list[tuple[int, tuple]]):
    arr = ffi.new("CK_ATTRIBUTE[]", len(items))
    for i, (t, (p, n)) in enumerate(items):
        arr[i].type = t
        arr[i].pValue = ffi.cast("void *", p)
        arr[i].ulValueLen = n
    keep.append(arr)
    return arr, len(items)


def wipe(*bufs: bytearray) -> None:
    for b in bufs:
        b[:] = bytes(len(b))


def open_token(s: dict[str, bytearray]):
    """Load the module, make a token (SO PIN, user PIN set, then changed) and log the user
    in; the PIN buffers are zeroed afterwards. Returns (function list, session)."""
    lib = ffi.dlopen(str(module_path()))
    keep.append(lib)
    pp = ffi.new("CK_FUNCTION_LIST_PTR *")
    check(lib.C_GetFunctionList(pp), "C_GetFunctionList")
    fl = pp[0]
    check(fl.C_Initialize(ffi.NULL), "C_Initialize")
    count = ffi.new("CK_ULONG *")
    check(fl.C_GetSlotList(1, ffi.NULL, count), "C_GetSlotList")
    slots = ffi.new("CK_SLOT_ID[]", count[0])
    check(fl.C_GetSlotList(1, slots, count), "C_GetSlotList")
    label = ffi.new("CK_UTF8CHAR[32]", b"memory".ljust(32))
    so_pin, first_pin, user_pin = s["so_pin"], s["first_user_pin"], s["user_pin"]
    check(fl.C_InitToken(slots[0], ffi.from_buffer(so_pin), len(so_pin), label), "C_InitToken")
    sess = ffi.new("CK_SESSION_HANDLE *")
    check(fl.C_OpenSession(slots[0], CKF_RW_SERIAL, ffi.NULL, ffi.NULL, sess), "C_OpenSession")
    h = sess[0]
    check(fl.C_Login(h, CKU_SO, ffi.from_buffer(so_pin), len(so_pin)), "C_Login SO")
    check(fl.C_InitPIN(h, ffi.from_buffer(first_pin), len(first_pin)), "C_InitPIN")
    check(fl.C_Logout(h), "C_Logout SO")
    check(fl.C_SetPIN(h, ffi.from_buffer(first_pin), len(first_pin), ffi.from_buffer(user_pin),
                      len(user_pin)), "C_SetPIN")
    check(fl.C_Login(h, CKU_USER, ffi.from_buffer(user_pin), len(user_pin)), "C_Login")
    wipe(so_pin, first_pin, user_pin)
    return fl, h


COMMON = ((CKA_TOKEN, True), (CKA_PRIVATE, True), (CKA_SENSITIVE, True))


def create(fl, h, items: list[tuple[int, tuple]], expect: int = CKR_OK) -> int:
    obj = ffi.new("CK_OBJECT_HANDLE *")
    arr, n = template(items + [(t, bbool(v)) for t, v in COMMON])
    rv = fl.C_CreateObject(h, arr, n, obj)
    if rv != expect:
        sys.exit(f"C_CreateObject: {rv:#x}, expected {expect:#x}")
    return obj[0]


def sign(fl, h, key: int, mech: int, times: int = 3) -> None:
    sig = ffi.new("CK_BYTE[512]")
    siglen = ffi.new("CK_ULONG *")
    data = ffi.new("CK_BYTE[32]", b"\x5a" * 32)
    for _ in range(times):
        m = ffi.new("CK_MECHANISM *", {"mechanism": mech})
        check(fl.C_SignInit(h, m, key), "C_SignInit")
        siglen[0] = 512
        check(fl.C_Sign(h, data, 32, sig, siglen), f"C_Sign {mech:#x}")


def encrypt(fl, h, key: int, times: int = 3) -> None:
    iv = ffi.new("CK_BYTE[12]", b"\x01" * 12)
    gcm = ffi.new("CK_GCM_PARAMS *", {"pIv": iv, "ulIvLen": 12, "ulIvBits": 96,
                                       "pAAD": ffi.NULL, "ulAADLen": 0, "ulTagBits": 128})
    data = ffi.new("CK_BYTE[32]", b"\x5a" * 32)
    out = ffi.new("CK_BYTE[64]")
    outlen = ffi.new("CK_ULONG *")
    for _ in range(times):
        m = ffi.new("CK_MECHANISM *", {"mechanism": CKM_AES_GCM, "pParameter": gcm,
                                       "ulParameterLen": ffi.sizeof("CK_GCM_PARAMS")})
        check(fl.C_EncryptInit(h, m, key), "C_EncryptInit")
        outlen[0] = 64
        check(fl.C_Encrypt(h, data, 32, out, outlen), "C_Encrypt")


def ec_key(s: dict[str, bytearray]) -> list:
    return [(CKA_CLASS, ulong(CKO_PRIVATE_KEY)), (CKA_KEY_TYPE, ulong(CKK_EC)),
            (CKA_EC_PARAMS, raw(P256_PARAMS)), (CKA_VALUE, raw(s["ec"])),
            (CKA_SIGN, bbool(True)), (CKA_LABEL, raw(b"ec-key"))]


def aes_key(value: bytearray, *extra: tuple) -> list:
    return [(CKA_CLASS, ulong(CKO_SECRET_KEY)), (CKA_KEY_TYPE, ulong(CKK_AES)),
            (CKA_VALUE, raw(value)), (CKA_ENCRYPT, bbool(True)), *extra]


def scenario_ec(fl, h, s: dict[str, bytearray]) -> None:
    """The issue's report, as it was found: import an EC key, sign with it, log out."""
    key = create(fl, h, ec_key(s))
    wipe(*s.values())
    keep.clear()
    sign(fl, h, key, CKM_ECDSA)


def scenario_all(fl, h, s: dict[str, bytearray]) -> None:
    """EC, AES and RSA keys imported, one import refused, a session copy, signing,
    encryption, a destroyed key (checkpoint ``destroy``), a find by label."""
    ec = create(fl, h, ec_key(s))
    aes = create(fl, h, aes_key(s["aes"], (CKA_DECRYPT, bbool(True)), (CKA_LABEL, raw(b"aes-key"))))
    rsa = create(fl, h, [
        (CKA_CLASS, ulong(CKO_PRIVATE_KEY)), (CKA_KEY_TYPE, ulong(CKK_RSA)),
        (CKA_MODULUS, raw(s["rsa_n"])), (CKA_PUBLIC_EXPONENT, raw(b"\x01\x00\x01")),
        (CKA_PRIVATE_EXPONENT, raw(s["rsa_d"])), (CKA_PRIME_1, raw(s["rsa_p"])),
        (CKA_PRIME_2, raw(s["rsa_q"])), (CKA_EXPONENT_1, raw(s["rsa_dp"])),
        (CKA_EXPONENT_2, raw(s["rsa_dq"])), (CKA_COEFFICIENT, raw(s["rsa_qinv"])),
        (CKA_SIGN, bbool(True)), (CKA_LABEL, raw(b"rsa-key"))])
    # refused after the value was decoded and checked: its copies must go as well
    create(fl, h, aes_key(s["aes_refused"], (CKA_VALUE_LEN, ulong(16))), CKR_TEMPLATE_INCONSISTENT)
    doomed = create(fl, h, aes_key(s["aes_destroyed"]))
    wipe(*s.values())
    keep.clear()

    sign(fl, h, ec, CKM_ECDSA)
    sign(fl, h, rsa, CKM_SHA256_RSA_PKCS)
    copy = ffi.new("CK_OBJECT_HANDLE *")
    arr, n = template([(CKA_TOKEN, bbool(False))])
    check(fl.C_CopyObject(h, aes, arr, n, copy), "C_CopyObject")
    encrypt(fl, h, aes)
    encrypt(fl, h, copy[0])
    encrypt(fl, h, doomed, 1)
    check(fl.C_DestroyObject(h, doomed), "C_DestroyObject")
    checkpoint("destroy")

    arr, n = template([(CKA_LABEL, raw(b"ec-key"))])
    check(fl.C_FindObjectsInit(h, arr, n), "C_FindObjectsInit")
    found = ffi.new("CK_OBJECT_HANDLE[4]")
    count = ffi.new("CK_ULONG *")
    check(fl.C_FindObjects(h, found, 4, count), "C_FindObjects")
    check(fl.C_FindObjectsFinal(h), "C_FindObjectsFinal")
    keep.clear()


def main() -> None:
    s = read_secrets()
    global canary
    canary = bytes(s["canary"])       # kept alive: the parent's proof that its scan sees this heap
    fl, h = open_token(s)
    (scenario_ec if sys.argv[1:] == ["ec"] else scenario_all)(fl, h, s)
    check(fl.C_Logout(h), "C_Logout")
    checkpoint("logout")
    check(fl.C_Finalize(ffi.NULL), "C_Finalize")
    checkpoint("finalize")


if __name__ == "__main__":
    main()
