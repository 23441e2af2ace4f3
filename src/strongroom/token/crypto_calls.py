"""Encryption, decryption and digests (v2.40 §5.8-§5.10 / v3.0 §5.8-§5.10): each C
function a thin method naming its operation kind and slot; the shared steps are
token/operation_steps.py's, the state machine token/operations.py's.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..mechanisms.registry import OpKind
from ..pkcs11.constants import CKA, CKO, CKR
from ..pkcs11.errors import CKRError
from . import operations
from .operation_steps import OperationSteps
from .sessions import OpSlot
from .types import Mechanism

if TYPE_CHECKING:
    from typing import Any

    from .application import Application

_ENCRYPT, _DECRYPT, _DIGEST = OpSlot.ENCRYPT, OpSlot.DECRYPT, OpSlot.DIGEST


class CryptoCalls:
    def __init__(self, app: Application, steps: OperationSteps) -> None:
        self._app = app
        self._steps = steps

    def refuse_call(self, h: int, slot: str, rv: int) -> None:
        self._steps.refuse_call(h, slot, rv)

    # --- encrypt / decrypt ---------------------------------------------------------------
    def encrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._steps.begin(h, OpKind.ENCRYPT, mech, key)

    def encrypt(self, h: int, data: Any, capacity: int | None, out: Any = None) -> bytes | int:
        """``out``: optionally the caller's writable output buffer (len = capacity); when
        the operation wrote its output there the result is an ``operations.InPlace``."""
        return self._steps.single(h, _ENCRYPT, data, capacity, out)

    def encrypt_update(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._steps.update(h, _ENCRYPT, data, capacity, output=True)

    def encrypt_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._steps.final(h, _ENCRYPT, capacity)

    def decrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._steps.begin(h, OpKind.DECRYPT, mech, key)

    def decrypt(self, h: int, data: Any, capacity: int | None) -> bytes | int:
        return self._steps.single(h, _DECRYPT, data, capacity)

    def decrypt_update(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._steps.update(h, _DECRYPT, data, capacity, output=True)

    def decrypt_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._steps.final(h, _DECRYPT, capacity)

    # --- digest ----------------------------------------------------------------------------
    def digest_init(self, h: int, mech: Mechanism) -> None:
        self._steps.begin(h, OpKind.DIGEST, mech, None)

    def digest(self, h: int, data: Any, capacity: int | None) -> bytes | int:
        return self._steps.single(h, _DIGEST, data, capacity)

    def digest_update(self, h: int, data: bytes) -> None:
        self._steps.update(h, _DIGEST, data)

    def digest_key(self, h: int, key: int) -> None:
        """C_DigestKey feeds a secret key's value into the digest without revealing it."""
        app = self._app
        session = app.session(h)
        with session.lock:
            session.active(_DIGEST)
            try:       # like every error but BUFFER_TOO_SMALL, these end the digest (§5.2)
                ref = app.resolve(session, key)
            except CKRError:
                session.end(_DIGEST)
                raise CKRError(CKR.KEY_HANDLE_INVALID) from None
            if ref.attrs.get(CKA.CLASS) != CKO.SECRET_KEY or CKA.VALUE not in ref.attrs:
                session.end(_DIGEST)
                raise CKRError(CKR.KEY_INDIGESTIBLE)
            operations.update(session, _DIGEST, ref.attrs[CKA.VALUE])

    def digest_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._steps.final(h, _DIGEST, capacity)

