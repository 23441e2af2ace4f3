"""Sessions and the state of their active operations.

A session belongs to one slot/token of this application (process). Its state (CKS_*) is
derived from its R/W flag and the application's login state on that token, because the
login is shared by every session of the application (v2.40 §5.6, §6.7.1).
"""
from __future__ import annotations

import threading
from enum import Enum

from .._records import TYPE_CHECKING

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

    The operation is always in one *step* (the model is the OP-TEE PKCS#11 TA's
    (function, step) state machine): just initialised; updating (``started_multipart``,
    after a C_*Update fed data); or holding a ``pending`` result. Each C call is legal in
    certain steps only; token/operations.py has the rules.

    ``pending`` is an output already computed but not yet delivered, because the caller's
    buffer was NULL or too small: ``(call, input_identity, output)`` where ``call`` names
    the function that produced it (crypto.SINGLE / UPDATE / FINAL) and
    ``input_identity`` the input it was computed from (v2.40 §5.2: the same call with the
    same input gets it; CKR_BUFFER_TOO_SMALL does not terminate the operation). For the
    message API it is ``(inputs, result, length)``.

    ``source`` is ``(factory, kind, key_material, param)``: how to build the same
    operation afresh, so a C_Encrypt / C_Sign ... repeated with *another* input after a
    size query is computed on a new operation instead of receiving the old output.
    ``key_version`` is the store's data_version when a token key was resolved (None for
    session keys and digests): C_*Final / one-shot calls re-check the key only when
    another process has committed since.
    """

    # A plain class (no dataclass): see the note in objects.py on cold start.
    __slots__ = (
        "key_handle",
        "key_version",
        "mechanism",
        "message_parts",
        "multipart",
        "needs_context_login",
        "op",
        "pending",
        "results",
        "source",
        "started_multipart",
    )

    def __init__(self, op: Any, mechanism: int = 0, key_handle: int = 0, multipart: bool = True,
                 started_multipart: bool = False, needs_context_login: bool = False,
                 pending: Any = None, message_parts: Any = None,
                 results: list[int] | None = None, source: Any = None,
                 key_version: Any = None) -> None:
        self.op = op
        self.mechanism = mechanism
        self.key_handle = key_handle
        self.multipart = multipart
        self.started_multipart = started_multipart
        self.needs_context_login = needs_context_login
        self.pending = pending
        self.message_parts = message_parts      # (param, aad, bytearray) between C_*MessageBegin and the last Next
        self.results = [] if results is None else results   # C_FindObjects handles still to return
        self.source = source
        self.key_version = key_version


class Session:
    __slots__ = ("handle", "lock", "ops", "rw", "slot_id", "token_id")

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
