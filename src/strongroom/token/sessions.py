"""Sessions and the state of their active operations.

A session belongs to one slot/token of this application (process). Its state (CKS_*) is
derived from its R/W flag and the application's login state on that token, because the
login is shared by every session of the application (v2.40 §5.6, §6.7.1).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..pkcs11.constants import CKR, CKS, CKU
from ..pkcs11.errors import CKRError


class OpSlot(Enum):
    """The kinds of operation a session can have active at the same time."""

    FIND = "find"
    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    DIGEST = "digest"
    SIGN = "sign"
    VERIFY = "verify"
    SIGN_RECOVER = "sign_recover"
    VERIFY_RECOVER = "verify_recover"
    MESSAGE_ENCRYPT = "message_encrypt"
    MESSAGE_DECRYPT = "message_decrypt"

    # Members are singletons compared by identity: hash by identity too (C speed; Enum's
    # default hashes the name in Python, ~0.2 us per dict lookup on every call).
    __hash__ = object.__hash__


@dataclass(slots=True)
class ActiveOperation:
    """One active operation: the mechanism's Operation plus what the core tracks around it.

    ``pending`` holds an output already computed but not yet delivered because the caller's
    buffer was NULL or too small; the next call returns it instead of computing again
    (v2.40 §5.2: CKR_BUFFER_TOO_SMALL does not terminate the operation).
    """

    op: Any
    mechanism: int = 0
    key_handle: int = 0
    multipart: bool = True
    started_multipart: bool = False
    needs_context_login: bool = False
    pending: Any = None   # bytes; (inputs, outputs) for the message API
    message_parts: Any = None   # (param, aad, bytearray) between C_*MessageBegin and the last Next
    results: list[int] = field(default_factory=list)   # C_FindObjects handles still to return


@dataclass
class Session:
    handle: int
    slot_id: int
    token_id: int
    rw: bool
    ops: dict[OpSlot, ActiveOperation] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def state(self, logged_in_as: CKU | None) -> CKS:
        if logged_in_as == CKU.SO:
            return CKS.RW_SO_FUNCTIONS
        if logged_in_as == CKU.USER:
            return CKS.RW_USER_FUNCTIONS if self.rw else CKS.RO_USER_FUNCTIONS
        return CKS.RW_PUBLIC_SESSION if self.rw else CKS.RO_PUBLIC_SESSION

    def active(self, slot: OpSlot) -> ActiveOperation:
        try:
            return self.ops[slot]
        except KeyError:
            raise CKRError(CKR.OPERATION_NOT_INITIALIZED) from None

    def begin(self, slot: OpSlot, active: ActiveOperation) -> None:
        if slot in self.ops:
            raise CKRError(CKR.OPERATION_ACTIVE)
        self.ops[slot] = active

    def end(self, slot: OpSlot) -> None:
        self.ops.pop(slot, None)
