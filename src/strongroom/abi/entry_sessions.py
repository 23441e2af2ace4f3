"""Session and PIN functions (v3.0 §5.6): C_InitPIN, C_SetPIN, C_OpenSession ..
C_Logout. PINs arrive as bytearrays and are zeroed when the core returns (issue 10)."""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11.errors import CKRError
from ..token.inprocess import APPLICATION
from ..wipe import zero
from . import marshal as M
from .extern import ARGUMENTS_BAD, OK, exported, extern, plain
from .pins import pin_max, required_pin
from .records_out import SESSION_INFO, fill

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Any

_sessions = APPLICATION.sessions


@exported
def sr_py_InitPIN(h: int, pPin: Any, ulPinLen: int) -> int:
    pin = required_pin(pPin, ulPinLen)
    try:
        _sessions.init_pin(h, pin)
    finally:
        zero(pin)
    return OK


@exported
def sr_py_SetPIN(h: int, pOld: Any, ulOld: int, pNew: Any, ulNew: int) -> int:
    old = new = None
    try:
        old = required_pin(pOld, ulOld, new=False)
        new = required_pin(pNew, ulNew)
        _sessions.set_pin(h, old, new)
    finally:
        zero(old)
        zero(new)
    return OK


@exported
def sr_py_OpenSession(slotID: int, flags: int, pApplication: Any, notify: Any, phSession: Any) -> int:
    phSession[0] = _sessions.open_session(slotID, flags)
    return OK


@exported
def sr_py_GetSessionInfo(h: int, pInfo: Any) -> int:
    fill(pInfo, _sessions.get_session_info(h), SESSION_INFO)
    return OK


@exported
def sr_py_Login(h: int, userType: int, pPin: Any, ulPinLen: int) -> int:
    if ulPinLen > pin_max(False):   # can never be right; C_Login has no PIN_LEN_RANGE (v3.0 §5.6)
        raise CKRError(ARGUMENTS_BAD, "PIN longer than any PIN the token accepts")
    pin = M.pin_in(pPin, ulPinLen)
    try:
        _sessions.login(h, userType, pin)
    finally:
        zero(pin)
    return OK


extern("sr_py_CloseSession", plain(_sessions.close_session))
extern("sr_py_CloseAllSessions", plain(_sessions.close_all_sessions))
extern("sr_py_Logout", plain(_sessions.logout))
