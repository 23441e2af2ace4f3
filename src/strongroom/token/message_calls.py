"""Message-based encryption and decryption (v3.0 §5.13, §5.14): C_MessageEncryptInit,
C_EncryptMessage, C_EncryptMessageBegin / Next, C_MessageEncryptFinal and the decrypt
side. Each C function is an inner function taking the application, and a thin method
of :class:`MessageCalls`.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..mechanisms import registry
from ..mechanisms.registry import OpKind
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from . import operations
from .sessions import ActiveOperation, OpSlot, Session
from .types import Mechanism

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from typing import Any

    from .application import Application


# --- message-based encryption (v3.0 §5.13, §5.14) ------------------------------------------
_MESSAGE_SLOT = {OpKind.ENCRYPT: OpSlot.MESSAGE_ENCRYPT, OpKind.DECRYPT: OpSlot.MESSAGE_DECRYPT}


def message_init(app: Application, h: int, kind: OpKind, mech: Mechanism, key: int) -> None:
    session = app.session(h)
    slot = _MESSAGE_SLOT[kind]
    with session.lock:
        if slot in session.ops:
            raise CKRError(CKR.OPERATION_ACTIVE)
        entry = registry.get(mech.type)
        if not entry.flags & registry.MESSAGE_FLAG[kind] or entry.message is None:
            raise CKRError(CKR.MECHANISM_INVALID, "mechanism has no message-based API")
        app.manager.refresh()
        ref = app.resolve_key(session, key)
        operations.check_key_for(kind, entry, ref)
        op = entry.message(kind, app.manager.key_material(ref), mech.param)
        session.begin(slot, ActiveOperation(op=op, mechanism=mech.type, key_handle=ref.handle))


def message_param_type(app: Application, h: int, kind: OpKind) -> type | None:
    """The per-message parameter dataclass of the active message operation (for the ABI)."""
    from ..pkcs11 import params as P  # deferred: the parameter dataclasses (cold start)

    session = app.session(h)
    with session.lock:
        return P.MESSAGE_PARAM_TYPES.get(session.active(_MESSAGE_SLOT[kind]).mechanism)


def _message_active(session: Session, kind: OpKind) -> ActiveOperation:
    """The active message-based operation; one whose key was destroyed ends here with
    CKR_KEY_HANDLE_INVALID (operations.KeyDestroyed)."""
    slot = _MESSAGE_SLOT[kind]
    active = session.active(slot)
    if active.op is operations.KEY_DESTROYED:
        session.end(slot)
        operations.KEY_DESTROYED.update()
    return active


def _message(app: Application, h: int, kind: OpKind, param: Any, aad: bytes, data: bytes,
             capacity: int | None) -> Any:
    """Run one message, keep the result for a size query / BUFFER_TOO_SMALL retry with the
    same inputs (so a generated IV is not generated twice), then deliver it; a call with
    other inputs discards it and runs its own message. Errors do not end the
    message-based operation (only C_Message*Final does), except that a destroyed key
    (operations.KeyDestroyed) ends it. Decryption verifies the tag before anything is kept."""
    session = app.session(h)
    with session.lock:
        active = _message_active(session, kind)
        inputs = (param, aad, data)
        if active.pending is None or active.pending[0] != inputs:
            active.pending = None
            if kind is OpKind.ENCRYPT:
                result = active.op.encrypt(param, aad, data)
                output = result[0]
            else:
                result = output = active.op.decrypt(param, aad, data)
            active.pending = (inputs, result, len(output))
        _, result, length = active.pending
        if not operations.fits(length, capacity):
            return length
        active.pending = None
        return result


def encrypt_message(app: Application, h: int, param: Any, aad: bytes, data: bytes,
                    capacity: int | None) -> tuple[bytes, Any] | int:
    out: tuple[bytes, Any] | int = _message(app, h, OpKind.ENCRYPT, param, aad, data, capacity)
    return out


def decrypt_message(app: Application, h: int, param: Any, aad: bytes, data: bytes,
                    capacity: int | None) -> bytes | int:
    out: bytes | int = _message(app, h, OpKind.DECRYPT, param, aad, data, capacity)
    return out


def message_begin(app: Application, h: int, kind: OpKind, param: Any, aad: bytes) -> None:
    """C_EncryptMessageBegin / C_DecryptMessageBegin: the message's parts are buffered and
    processed as one message at the C_*MessageNext flagged CKF_END_OF_MESSAGE (so a
    generated IV and the tag are written back then, and no unauthenticated plaintext is
    released before the tag is checked)."""
    session = app.session(h)
    with session.lock:
        active = _message_active(session, kind)
        if active.message_parts is not None:
            raise CKRError(CKR.OPERATION_ACTIVE, "a multi-part message is in progress")
        active.message_parts = (param, aad, bytearray())


def message_next(app: Application, h: int, kind: OpKind, param: Any, data: bytes, end: bool,
                 capacity: int | None) -> Any:
    """C_*MessageNext: b"" until the last part, then the whole message's output (encrypt:
    ``(ciphertext, param_out)``); two-call convention on every call."""
    session = app.session(h)
    with session.lock:
        active = _message_active(session, kind)
        if active.message_parts is None:
            raise CKRError(CKR.OPERATION_NOT_INITIALIZED, "no C_*MessageBegin")
        _, aad, buffered = active.message_parts
        if not end:
            if capacity is None:
                return 0                             # a size query buffers nothing
            buffered += data
            return (b"", None) if kind is OpKind.ENCRYPT else b""
        try:
            result = _message(app, h, kind, param, aad, bytes(buffered) + data, capacity)
        except CKRError:
            active.message_parts = None      # a real failure ends this message
            raise
        if result.__class__ is not int:      # delivered: the message is done
            active.message_parts = None
        return result


def message_final(app: Application, h: int, kind: OpKind) -> None:
    session = app.session(h)
    with session.lock:
        active = session.active(_MESSAGE_SLOT[kind])
        try:
            active.op.close()
        finally:
            session.end(_MESSAGE_SLOT[kind])


class MessageCalls:
    def __init__(self, app: Application) -> None:
        self._app = app

    def message_encrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        message_init(self._app, h, OpKind.ENCRYPT, mech, key)

    def message_decrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        message_init(self._app, h, OpKind.DECRYPT, mech, key)

    def message_param_type(self, h: int, encrypt: bool) -> type | None:
        return message_param_type(self._app, h, OpKind.ENCRYPT if encrypt else OpKind.DECRYPT)

    def encrypt_message(self, h: int, param: Any, aad: bytes, data: bytes,
                        capacity: int | None) -> tuple[bytes, Any] | int:
        return encrypt_message(self._app, h, param, aad, data, capacity)

    def decrypt_message(self, h: int, param: Any, aad: bytes, data: bytes, capacity: int | None) -> bytes | int:
        return decrypt_message(self._app, h, param, aad, data, capacity)

    def message_begin(self, h: int, encrypt: bool, param: Any, aad: bytes) -> None:
        message_begin(self._app, h, OpKind.ENCRYPT if encrypt else OpKind.DECRYPT, param, aad)

    def message_next(self, h: int, encrypt: bool, param: Any, data: bytes, end: bool,
                     capacity: int | None) -> Any:
        kind = OpKind.ENCRYPT if encrypt else OpKind.DECRYPT
        return message_next(self._app, h, kind, param, data, end, capacity)

    def message_encrypt_final(self, h: int) -> None:
        message_final(self._app, h, OpKind.ENCRYPT)

    def message_decrypt_final(self, h: int) -> None:
        message_final(self._app, h, OpKind.DECRYPT)
