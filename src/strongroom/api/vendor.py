"""strongroom's vendor functions (``abi/strongroom_vendor.h``) through ctypes.

The figures of a token's store record (objects, bytes, PIN failure counters) and deleting
a token without any PIN are strongroom-only administration that PKCS#11 does not offer.
The tools reach them through the module, like everything else on a token: the two
functions SR_GetTokenUsage / SR_DeleteToken that libstrongroom.so exports beside the
Cryptoki ones. They are called on the module python-pkcs11 loaded (dlopen hands back the
same handle for the same file, so they share its C_Initialize state; see cfuncs.py), after
loading it through python-pkcs11, which initialises it. Only strongroom's own module has
them: callers check that first (cli/store_view.is_own_module).
"""
from __future__ import annotations

import ctypes
from typing import Any

from .errors import from_rv
from .library import load_library

__all__ = ["USAGE_FIELDS", "delete_token", "token_usage"]

_ULONG = ctypes.c_ulong


# SR_TOKEN_USAGE's CK_ULONG members, in order, by the names token_usage() gives them.
USAGE_FIELDS = ("objects", "bytes_used", "quota_objects", "quota_bytes", "user_pin_failures",
                "so_pin_failures", "pin_max_tries")


class _Usage(ctypes.Structure):
    _fields_ = [(name, _ULONG) for name in USAGE_FIELDS]


def _function(path: str, name: str, *argtypes: Any) -> Any:
    """The vendor function `name` of the module at `path`, initialised first (a ctypes
    function pointer: its call is as dynamic as the C it reaches)."""
    load_library(path)
    function = getattr(ctypes.CDLL(path), name)
    function.restype = _ULONG
    function.argtypes = list(argtypes)
    return function


def token_usage(path: str, slot_id: int) -> dict[str, int]:
    """SR_GetTokenUsage: the store figures of the token in `slot_id` by USAGE_FIELDS'
    names (StrongroomError with .ckr CKR_TOKEN_NOT_RECOGNIZED for the free slot)."""
    usage = _Usage()
    rv = int(_function(path, "SR_GetTokenUsage", _ULONG, ctypes.POINTER(_Usage))(slot_id, ctypes.byref(usage)))
    if rv != 0:
        raise from_rv(rv, f"reading the store figures of the token in slot {slot_id}")
    return {name: int(getattr(usage, name)) for name in USAGE_FIELDS}


def delete_token(path: str, slot_id: int) -> None:
    """SR_DeleteToken: remove the token in `slot_id` and all its objects, no PIN asked
    (CKR_SESSION_EXISTS while this process has a session on it)."""
    rv = int(_function(path, "SR_DeleteToken", _ULONG)(slot_id))
    if rv != 0:
        raise from_rv(rv, f"deleting the token in slot {slot_id}")
