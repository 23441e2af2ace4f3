"""The few Cryptoki calls python-pkcs11 lacks or makes awkward, through ctypes.

python-pkcs11 has no C_InitToken, and its Token.open() logs in inside the call: a
second open() of an already logged-in token fails with CKR_USER_ALREADY_LOGGED_IN
(login is per application, not per session), a failed login leaks the session it
opened, and closing any session calls C_Logout, logging out every other session of
the process. So the API opens sessions without a PIN and calls C_Login itself. The
function table comes from the same module python-pkcs11 loaded (dlopen hands back the
same handle for the same path, so both share its C_Initialize state).
"""
from __future__ import annotations

import ctypes
from typing import Any

__all__ = ["CKU_SO", "CKU_USER", "generate_key_pair", "init_token", "login"]

CKU_SO, CKU_USER = 0, 1
_ULONG = ctypes.c_ulong
# Positions in CK_FUNCTION_LIST after its CK_VERSION (padded to a pointer).
_INDEX = {"C_InitToken": 9, "C_Login": 18, "C_GenerateKeyPair": 59}
_TYPES = {
    "C_InitToken": ctypes.CFUNCTYPE(_ULONG, _ULONG, ctypes.c_char_p, _ULONG, ctypes.c_char_p),
    "C_Login": ctypes.CFUNCTYPE(_ULONG, _ULONG, _ULONG, ctypes.c_char_p, _ULONG),
    "C_GenerateKeyPair": ctypes.CFUNCTYPE(_ULONG, _ULONG, ctypes.c_void_p, ctypes.c_void_p, _ULONG,
                                          ctypes.c_void_p, _ULONG, ctypes.POINTER(_ULONG),
                                          ctypes.POINTER(_ULONG)),
}


class _Mechanism(ctypes.Structure):
    _fields_ = [("mechanism", _ULONG), ("pParameter", ctypes.c_void_p), ("ulParameterLen", _ULONG)]


class _Attribute(ctypes.Structure):
    _fields_ = [("type", _ULONG), ("pValue", ctypes.c_void_p), ("ulValueLen", _ULONG)]


_tables: dict[str, int] = {}


def _function(path: str, name: str) -> Any:
    """The C function `name` from the module's CK_FUNCTION_LIST (a ctypes function
    pointer: its call is as dynamic as the C it reaches)."""
    table = _tables.get(path)
    if table is None:
        get = ctypes.CDLL(path).C_GetFunctionList
        get.restype = _ULONG
        get.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
        pointer = ctypes.c_void_p()
        rv = get(ctypes.byref(pointer))
        if rv != 0 or not pointer.value:
            from .errors import StrongroomError

            raise StrongroomError(f"C_GetFunctionList of {path} failed (rv 0x{rv:x})", ckr=rv)
        table = _tables[path] = pointer.value
    slot = ctypes.c_void_p.from_address(table + ctypes.sizeof(ctypes.c_void_p) * (1 + _INDEX[name]))
    if not slot.value:
        from .errors import StrongroomError

        raise StrongroomError(f"{path} has no {name} in its function list", ckr=0x54)  # CKR_FUNCTION_NOT_SUPPORTED
    return _TYPES[name](slot.value)


def init_token(path: str, slot_id: int, so_pin: str, label: str) -> int:
    """C_InitToken; returns the CK_RV. `label` is blank-padded to 32 bytes here."""
    pin = so_pin.encode("utf-8")
    return int(_function(path, "C_InitToken")(slot_id, pin, len(pin), label.encode("utf-8").ljust(32, b" ")))


def login(path: str, session_handle: int, user_type: int, pin: str) -> int:
    """C_Login on a session python-pkcs11 opened; returns the CK_RV."""
    data = pin.encode("utf-8")
    return int(_function(path, "C_Login")(session_handle, user_type, data, len(data)))


Value = bool | int | bytes | str | list[int]


def _value(value: Value) -> bytes:
    """The C image of a template value: CK_BBOOL, CK_ULONG (native), bytes, UTF-8, or a
    list of CK_ULONGs (CKA_ALLOWED_MECHANISMS)."""
    if isinstance(value, bool):
        return b"\x01" if value else b"\x00"
    if isinstance(value, int):
        return bytes(_ULONG(value))
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, list):
        return b"".join(bytes(_ULONG(v)) for v in value)
    return bytes(value)


def _template(items: list[tuple[int, Value]]) -> tuple[ctypes.Array[_Attribute], list[ctypes.Array[ctypes.c_char]]]:
    images = [_value(v) for _, v in items]
    buffers = [ctypes.create_string_buffer(image, len(image) or 1) for image in images]
    array = (_Attribute * max(len(items), 1))()
    for i, ((cka, _), image, buf) in enumerate(zip(items, images, buffers, strict=True)):
        array[i] = _Attribute(cka, ctypes.cast(buf, ctypes.c_void_p), len(image))
    return array, buffers     # the buffers must outlive the call


def generate_key_pair(path: str, session_handle: int, mechanism: int,
                      public: list[tuple[int, Value]], private: list[tuple[int, Value]]) -> tuple[int, int, int]:
    """C_GenerateKeyPair with a parameterless mechanism, for the key types python-pkcs11
    has no enum member for (CKK_EC_MONTGOMERY). Returns (CK_RV, public handle, private handle)."""
    mech = _Mechanism(mechanism, None, 0)
    pub, keep_pub = _template(public)
    priv, keep_priv = _template(private)
    h_pub, h_priv = _ULONG(0), _ULONG(0)
    rv = _function(path, "C_GenerateKeyPair")(session_handle, ctypes.addressof(mech),
                                              ctypes.addressof(pub), len(public),
                                              ctypes.addressof(priv), len(private),
                                              ctypes.byref(h_pub), ctypes.byref(h_priv))
    del keep_pub, keep_priv
    return int(rv), h_pub.value, h_priv.value
