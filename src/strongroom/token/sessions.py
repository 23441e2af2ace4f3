"""Sessions and the state of their active operations.

A session belongs to one slot/token of this application (process). Its state (CKS_*) is
derived from its R/W flag and the application's login state on that token, because the
login is shared by every session of the application (v2.40 §5.6, §6.7.1).
"""
from __future__ import annotations

import threading
from enum import Enum
TYPE_CHECKING = False   # typing is not imported at run time: cold start (_records.py)
if TYPE_CHECKING:
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


class ActiveOperation:
    """One active operation: the mechanism's Operation plus what the core tracks around it.

    ``pending`` holds an output already computed but not yet delivered because the caller's
    buffer was NULL or too small; the next call returns it instead of computing again
    (v2.40 §5.2: CKR_BUFFER_TOO_SMALL does not terminate the operation).
    """

    # A plain class (no dataclass): see the note in objects.py on cold start.
    __slots__ = ("op", "mechanism", "key_handle", "multipart", "started_multipart",
                 "needs_context_login", "pending", "message_parts", "results")

    def __init__(self, op: Any, mechanism: int = 0, key_handle: int = 0, multipart: bool = True,
                 started_multipart: bool = False, needs_context_login: bool = False,
                 pending: Any = None, message_parts: Any = None,
                 results: list[int] | None = None) -> None:
        self.op = op
        self.mechanism = mechanism
        self.key_handle = key_handle
        self.multipart = multipart
        self.started_multipart = started_multipart
        self.needs_context_login = needs_context_login
        self.pending = pending                  # bytes; (inputs, outputs) for the message API
        self.message_parts = message_parts      # (param, aad, bytearray) between C_*MessageBegin and the last Next
        self.results = [] if results is None else results   # C_FindObjects handles still to return


class Session:
    __slots__ = ("handle", "slot_id", "token_id", "rw", "ops", "lock")

    def __init__(self, handle: int, slot_id: int, token_id: int, rw: bool) -> None:
        self.handle = handle
        self.slot_id = slot_id
        self.token_id = token_id
        self.rw = rw
        self.ops: dict[OpSlot, ActiveOperation] = {}
        self.lock = threading.RLock()

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
