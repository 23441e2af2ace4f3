"""What ends an operation before its data is read.

The C wrappers of the functions that have an active operation do not refuse a NULL
length pointer or a NULL data pointer with a length (build_ffi.CHECKED_IN_PYTHON): those
errors, and data longer than max_data_len, must end the operation like every error but
CKR_BUFFER_TOO_SMALL (v2.40 §5.2, §5.8 "always terminates the active operation unless
..."), so they are refused here through the core (``crypto.refuse_call``).
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..token.inprocess import APPLICATION
from .extern import ARGUMENTS_BAD

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Any, NoReturn

#: Config.max_data_len of the running module: set by sr_py_Initialize, read by every
#: data-carrying call (a one-element list: read without a global lookup chain).
max_data_len = [64 * 1024 * 1024]

DATA_LEN_RANGE = int(CKR.DATA_LEN_RANGE)
ENCRYPTED_DATA_LEN_RANGE = int(CKR.ENCRYPTED_DATA_LEN_RANGE)
SIGNATURE_LEN_RANGE = int(CKR.SIGNATURE_LEN_RANGE)
#: The spec's code for an input above max_data_len, by operation: ciphertext is
#: CKR_ENCRYPTED_DATA_LEN_RANGE, a signature CKR_SIGNATURE_LEN_RANGE, plaintext (data to
#: encrypt, digest, sign or verify; AAD) CKR_DATA_LEN_RANGE (v3.0 §5.1.6 definitions).
_TOO_LONG = {"decrypt": ENCRYPTED_DATA_LEN_RANGE, "verify_recover": SIGNATURE_LEN_RANGE,
             "message_decrypt": ENCRYPTED_DATA_LEN_RANGE}

_refuse_call = APPLICATION.crypto.refuse_call


def refuse(h: int, slot: str, rv: int) -> NoReturn:
    """End ``slot``'s operation (an OpSlot value, e.g. "encrypt") with ``rv``: the core
    raises the CKRError (SESSION_HANDLE_INVALID first)."""
    _refuse_call(h, slot, rv)
    raise CKRError(rv)          # pragma: no cover - the core always raises


def too_long(slot: str) -> int:
    """The code for a data input of ``slot``'s operation above max_data_len."""
    return _TOO_LONG.get(slot, DATA_LEN_RANGE)


def input_rv(p: Any, n: int, too_long: int) -> int:
    """0 when (p, n) is an input the ABI may read, else the code that refuses it
    (``too_long`` when it is longer than max_data_len)."""
    if n and not p:
        return ARGUMENTS_BAD
    if n > max_data_len[0]:
        return too_long
    return 0


def message_inputs(h: int, slot: str, ul_aad: int, ul_data: int) -> None:
    """AAD and data above max_data_len: refused before they are read (the message in
    progress ends; the message-based operation survives, as on any message error)."""
    limit = max_data_len[0]
    if ul_aad > limit:
        refuse(h, slot, DATA_LEN_RANGE)
    if ul_data > limit:
        refuse(h, slot, too_long(slot))
