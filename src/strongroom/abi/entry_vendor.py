"""strongroom's vendor functions (strongroom_vendor.h): SR_GetTokenUsage, SR_DeleteToken.

The tools read a token's store figures and delete a token through the module, as any
other PKCS#11 caller, instead of opening the token store a second time. The C wrapper
checked C_Initialize and the NULL ``pUsage`` (build_ffi.NONNULL).
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..token.inprocess import APPLICATION
from .extern import OK, exported, extern, plain
from .records_out import TOKEN_USAGE, fill

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Any

_slots = APPLICATION.slots


@exported
def sr_py_GetTokenUsage(slotID: int, pUsage: Any) -> int:
    fill(pUsage, _slots.token_usage(slotID), TOKEN_USAGE)
    return OK


extern("sr_py_DeleteToken", plain(_slots.delete_token))
