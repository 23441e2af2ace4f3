"""PINs in: bounded before they are read, copied into a ``bytearray`` the caller zeroes."""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as _limits
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..token.inprocess import APPLICATION
from . import marshal as M
from .extern import ARGUMENTS_BAD

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Any

_PIN_LEN_RANGE = int(CKR.PIN_LEN_RANGE)


def pin_max(new: bool) -> int:
    """Longest PIN read at the ABI: a new PIN ``pin_max_len`` (check_pin_len would refuse
    a longer one after copying it), a PIN to check also at least MAX_PIN_LEN (a PIN set
    before ``pin_max_len`` was lowered must still be checkable)."""
    config = APPLICATION.config
    configured = config.pin_max_len if config is not None else 0
    return configured if new else max(configured, _limits.MAX_PIN_LEN)


def required_pin(p: Any, n: int, new: bool = True) -> bytearray:
    """A PIN that must be given (C_InitToken, C_InitPIN, C_SetPIN)."""
    if n > pin_max(new):      # before the PIN is read: a lying ulPinLen (pkcs11/limits.py)
        raise CKRError(_PIN_LEN_RANGE, "PIN longer than the token allows")
    pin = M.pin_in(p, n)
    if pin is None:
        raise CKRError(ARGUMENTS_BAD, "NULL PIN (no protected authentication path)")
    return pin
