"""strongroom's vendor functions through the real module: SR_GetTokenUsage and
SR_DeleteToken, exported by name and as the interface "strongroom" 1.0."""
from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.abi import build_ffi
from strongroom.pkcs11.constants import CKA, CKO, CKR, CKU

SO_PIN = b"so-pin-1234"
USER_PIN = b"user-pin-1234"
CKF_RW_SERIAL = 0x2 | 0x4
HEADER = Path(build_ffi.HERE) / build_ffi.VENDOR_HEADER


def _slots(ck, present: bool = False) -> list[int]:
    ffi, fl = ck.ffi, ck.fl
    count = ffi.new("CK_ULONG *")
    assert fl.C_GetSlotList(present, ffi.NULL, count) == CKR.OK
    arr = ffi.new("CK_SLOT_ID[]", max(count[0], 1))
    assert fl.C_GetSlotList(present, arr, count) == CKR.OK
    return list(arr[0:count[0]])


def _open(ck, slot: int) -> int:
    h = ck.ffi.new("CK_SESSION_HANDLE *")
    assert ck.fl.C_OpenSession(slot, CKF_RW_SERIAL, ck.ffi.NULL, ck.ffi.NULL, h) == CKR.OK
    return h[0]


@pytest.fixture
def token(ck):
    """An initialised token with a user PIN; no session left open. Returns (ck, slot)."""
    ffi, fl = ck.ffi, ck.fl
    slot = _slots(ck)[0]
    label = ffi.new("CK_UTF8CHAR[32]", b"vendor test".ljust(32, b" "))
    assert fl.C_InitToken(slot, SO_PIN, len(SO_PIN), label) == CKR.OK
    h = _open(ck, slot)
    assert fl.C_Login(h, CKU.SO, SO_PIN, len(SO_PIN)) == CKR.OK
    assert fl.C_InitPIN(h, USER_PIN, len(USER_PIN)) == CKR.OK
    assert fl.C_CloseSession(h) == CKR.OK
    return ck, slot


def _usage(ck, slot: int):
    usage = ck.ffi.new("SR_TOKEN_USAGE *")
    assert ck.lib.SR_GetTokenUsage(slot, usage) == CKR.OK
    return usage


def _token_info(ck, slot: int):
    info = ck.ffi.new("CK_TOKEN_INFO *")
    assert ck.fl.C_GetTokenInfo(slot, info) == CKR.OK
    return info


def _create_data_object(ck, h: int) -> None:
    ffi = ck.ffi
    cls = ffi.new("CK_ULONG *", CKO.DATA)
    true = ffi.new("CK_BBOOL *", 1)
    value = ffi.new("char[]", b"x" * 100)
    t = ffi.new("CK_ATTRIBUTE[3]")
    for i, (typ, ptr, n) in enumerate(((CKA.CLASS, cls, ffi.sizeof("CK_ULONG")), (CKA.TOKEN, true, 1),
                                       (CKA.VALUE, value, 100))):
        t[i].type, t[i].pValue, t[i].ulValueLen = typ, ptr, n
    obj = ffi.new("CK_OBJECT_HANDLE *")
    assert ck.fl.C_CreateObject(h, t, 3, obj) == CKR.OK


def test_usage_matches_token_info(token):
    ck, slot = token
    usage, info = _usage(ck, slot), _token_info(ck, slot)
    assert usage.ulObjects == 0
    assert usage.ulQuotaBytes == info.ulTotalPublicMemory
    assert usage.ulQuotaBytes - usage.ulBytesUsed == info.ulFreePublicMemory
    assert usage.ulQuotaObjects > 0 and usage.ulPinMaxTries > 0
    assert usage.ulUserPinFailures == usage.ulSoPinFailures == 0

    h = _open(ck, slot)
    assert ck.fl.C_Login(h, CKU.USER, USER_PIN, len(USER_PIN)) == CKR.OK
    _create_data_object(ck, h)
    assert ck.fl.C_Logout(h) == CKR.OK
    assert ck.fl.C_Login(h, CKU.USER, b"wrong-pin", 9) == CKR.PIN_INCORRECT
    usage, info = _usage(ck, slot), _token_info(ck, slot)
    assert usage.ulObjects == 1
    assert usage.ulBytesUsed > 100
    assert usage.ulQuotaBytes - usage.ulBytesUsed == info.ulFreePublicMemory
    assert usage.ulUserPinFailures == 1 and usage.ulSoPinFailures == 0


def test_delete_refused_while_a_session_is_open(token):
    ck, slot = token
    h = _open(ck, slot)
    assert ck.lib.SR_DeleteToken(slot) == CKR.SESSION_EXISTS
    assert _usage(ck, slot).ulObjects == 0          # still there
    assert ck.fl.C_CloseSession(h) == CKR.OK
    assert ck.lib.SR_DeleteToken(slot) == CKR.OK


def test_delete_removes_the_token(token):
    ck, slot = token
    assert slot in _slots(ck, present=True)
    assert ck.lib.SR_DeleteToken(slot) == CKR.OK
    info = _token_info(ck, slot)  # the slot stays, free again
    assert not info.flags & 0x400                     # CKF_TOKEN_INITIALIZED
    usage = ck.ffi.new("SR_TOKEN_USAGE *")
    assert ck.lib.SR_GetTokenUsage(slot, usage) == CKR.TOKEN_NOT_RECOGNIZED
    assert ck.lib.SR_DeleteToken(slot) == CKR.TOKEN_NOT_RECOGNIZED
    assert ck.fl.C_OpenSession(slot, CKF_RW_SERIAL, ck.ffi.NULL, ck.ffi.NULL,
                               ck.ffi.new("CK_SESSION_HANDLE *")) == CKR.TOKEN_NOT_RECOGNIZED


def test_guards(fresh):
    ffi, lib = fresh.ffi, fresh.lib
    usage = ffi.new("SR_TOKEN_USAGE *")
    assert lib.SR_GetTokenUsage(0, usage) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert lib.SR_GetTokenUsage(0, ffi.NULL) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert lib.SR_DeleteToken(0) == CKR.CRYPTOKI_NOT_INITIALIZED
    fresh.initialize()
    assert lib.SR_GetTokenUsage(0, ffi.NULL) == CKR.ARGUMENTS_BAD
    assert lib.SR_GetTokenUsage(0xFFFF, usage) == CKR.SLOT_ID_INVALID
    assert lib.SR_DeleteToken(0xFFFF) == CKR.SLOT_ID_INVALID
    assert lib.SR_GetTokenUsage(0, usage) == CKR.TOKEN_NOT_RECOGNIZED   # fresh home: slot 0 free


def test_interface_strongroom_1_0(token):
    ck, slot = token
    ffi, lib = ck.ffi, ck.lib
    out = ffi.new("CK_INTERFACE_PTR *")
    name = ffi.new("char[]", b"strongroom")
    ver = ffi.new("CK_VERSION *", {"major": 1, "minor": 0})
    assert lib.C_GetInterface(ffi.cast("CK_UTF8CHAR_PTR", name), ver, out, 0) == CKR.OK
    assert lib.C_GetInterface(ffi.cast("CK_UTF8CHAR_PTR", name), ffi.NULL, out, 0) == CKR.OK
    vendor = ffi.cast("SR_FUNCTION_LIST *", out[0].pFunctionList)
    assert (vendor.version.major, vendor.version.minor) == (1, 0)
    usage = ffi.new("SR_TOKEN_USAGE *")
    assert vendor.SR_GetTokenUsage(slot, usage) == CKR.OK
    assert usage.ulQuotaBytes == _token_info(ck, slot).ulTotalPublicMemory
    assert vendor.SR_DeleteToken(slot) == CKR.OK
    assert vendor.SR_GetTokenUsage(slot, usage) == CKR.TOKEN_NOT_RECOGNIZED
    ver.minor = 1
    assert lib.C_GetInterface(ffi.cast("CK_UTF8CHAR_PTR", name), ver, out, 0) == CKR.ARGUMENTS_BAD


def test_header_declares_what_the_module_exports():
    """strongroom_vendor.h (installed with the package) names every vendor function with
    the parameters the module is built with, and its cdef part is what cffi reads."""
    text = HEADER.read_text()
    for name, params in build_ffi.VENDOR_FUNCTIONS:
        assert f"CK_RV {name}(" in text
        assert f"(*{name})(" in text
        for _, pname in params:
            assert pname in text
    assert "#" not in build_ffi.vendor_cdef()
    assert "SR_TOKEN_USAGE" in build_ffi.vendor_cdef()
