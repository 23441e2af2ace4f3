"""The client module called directly through ctypes (exact CK_RVs, fork, restarts)."""
from __future__ import annotations

import ctypes
from ctypes import POINTER, byref, c_ulong, c_void_p

CK_ULONG = c_ulong
CKR_OK = 0
CKR_SLOT_ID_INVALID = 0x3
CKR_DEVICE_REMOVED = 0x32
CKR_FUNCTION_NOT_PARALLEL = 0x51
CKR_SESSION_HANDLE_INVALID = 0xB3
CKR_BUFFER_TOO_SMALL = 0x150
CKR_CRYPTOKI_NOT_INITIALIZED = 0x190
CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191
CKF_SERIAL_SESSION = 0x4
CKF_RW_SESSION = 0x2


class Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class Interface(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("functions", POINTER(Version)), ("flags", CK_ULONG)]


class TokenInfo(ctypes.Structure):
    _fields_ = [("label", ctypes.c_char * 32), ("manufacturerID", ctypes.c_char * 32), ("model", ctypes.c_char * 16),
                ("serialNumber", ctypes.c_char * 16), ("flags", CK_ULONG), *((n, CK_ULONG) for n in (
                    "max_sessions", "sessions", "max_rw", "rw", "max_pin", "min_pin", "total_pub", "free_pub",
                    "total_priv", "free_priv")), ("hw", Version), ("fw", Version), ("utc", ctypes.c_char * 16)]


class Client:
    def __init__(self, path: str) -> None:
        self.lib = ctypes.CDLL(path)
        for name in ("C_Initialize", "C_Finalize", "C_GetSlotList", "C_OpenSession", "C_CloseSession",
                     "C_GenerateRandom", "C_GetInterfaceList", "C_GetInterface", "C_GetMechanismList",
                     "C_GetTokenInfo", "C_GetFunctionStatus", "C_Login"):
            getattr(self.lib, name).restype = CK_ULONG
        self.lib.C_OpenSession.argtypes = [CK_ULONG, CK_ULONG, c_void_p, c_void_p, POINTER(CK_ULONG)]
        self.lib.C_GenerateRandom.argtypes = [CK_ULONG, ctypes.c_char_p, CK_ULONG]
        self.lib.C_CloseSession.argtypes = [CK_ULONG]
        self.lib.C_GetFunctionStatus.argtypes = [CK_ULONG]
        self.lib.C_GetMechanismList.argtypes = [CK_ULONG, c_void_p, POINTER(CK_ULONG)]
        self.lib.C_GetTokenInfo.argtypes = [CK_ULONG, POINTER(TokenInfo)]

    def initialize(self) -> int:
        return int(self.lib.C_Initialize(None))

    def finalize(self) -> int:
        return int(self.lib.C_Finalize(None))

    def slots(self) -> tuple[int, list[int]]:
        n = CK_ULONG(0)
        rv = self.lib.C_GetSlotList(ctypes.c_ubyte(0), None, byref(n))
        if rv != CKR_OK or n.value == 0:
            return int(rv), []
        arr = (CK_ULONG * n.value)()
        rv = self.lib.C_GetSlotList(ctypes.c_ubyte(0), arr, byref(n))
        return int(rv), list(arr[: n.value])

    def open_session(self, slot: int) -> tuple[int, int]:
        h = CK_ULONG(0)
        rv = self.lib.C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, None, None, byref(h))
        return int(rv), h.value

    def random(self, session: int, n: int = 16) -> tuple[int, bytes]:
        buf = ctypes.create_string_buffer(n)
        rv = self.lib.C_GenerateRandom(session, buf, n)
        return int(rv), buf.raw

    def close_session(self, session: int) -> int:
        return int(self.lib.C_CloseSession(session))
