"""Cryptographic operations (v2.40 §5.8-§5.12 / v3.0 §5.8-§5.12): encrypt, decrypt,
digest, sign, verify and the recover variants -- each C function a thin method that
finds the session and hands over to token/operations.py, which owns the operation's
state machine and the two-call convention.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..mechanisms.registry import OpKind
from ..pkcs11.constants import CKA, CKO, CKR
from ..pkcs11.errors import CKRError
from . import operations
from .objects import SESSION_HANDLE_BASE
from .sessions import ActiveOperation, OpSlot, Session
from .types import Mechanism

if TYPE_CHECKING:
    from .application import Application

_ENCRYPT, _DECRYPT, _DIGEST = OpSlot.ENCRYPT, OpSlot.DECRYPT, OpSlot.DIGEST
_SIGN, _VERIFY = OpSlot.SIGN, OpSlot.VERIFY


class CryptoCalls:
    def __init__(self, app: Application) -> None:
        self._app = app

    # --- the shared steps --------------------------------------------------------------
    def _begin(self, h: int, kind: OpKind, mech: Mechanism, key: int | None) -> None:
        app = self._app
        session = app.session(h)
        with session.lock:
            ref = km = version = None
            if key is not None:
                manager = app.manager
                try:
                    target = app.handles.target(key)
                except CKRError:
                    raise CKRError(CKR.KEY_HANDLE_INVALID) from None
                if target < SESSION_HANDLE_BASE:
                    # A token object: one PRAGMA data_version sees another process's
                    # commit. Session objects live in this process only: no store read.
                    version = manager.refresh()   # what _check_key_alive compares with
                ref = app.resolve_key(session, key)
                km = manager.key_material(ref)
            operations.begin(session, kind, mech, ref, km, version)

    def _check_key_alive(self, session: Session, slot: OpSlot) -> None:
        """A token key destroyed by another process since C_*Init: one data_version probe
        (the shim's, ~0.3 µs) per call of an operation on a token key; the object is
        looked up again only when some connection has committed since. A vanished key
        makes the operation fail at this call (operations.KeyDestroyed). Session keys and
        digests have no ``key_version`` and cost one dict lookup here."""
        active = session.ops.get(slot)
        if active is None:
            return
        seen = active.key_version
        if seen is None:
            return
        version = self._app.core.store.data_version()
        if version != seen:
            self._recheck_key(session, active, version)

    def _recheck_key(self, session: Session, active: ActiveOperation, version: int) -> None:
        app = self._app
        manager = app.manager
        manager.refresh()
        try:
            manager.get(active.key_handle, app.visibility(session))
        except CKRError:
            operations.revoke_key((session,), active.key_handle)
        active.key_version = version

    def refuse_call(self, h: int, slot: str, rv: int) -> None:
        """An error the ABI found before reading the call's data (NULL length pointer,
        NULL data pointer with a length, data above max_data_len): the operation in
        ``slot`` (an OpSlot value, e.g. "encrypt") ends like on any other error. The
        argument error is the answer even for an unknown session handle."""
        try:
            session = self._app.session(h)
        except CKRError:
            raise CKRError(rv) from None
        with session.lock:
            operations.refuse(session, OpSlot(slot), rv)

    def _single(self, h: int, slot: OpSlot, data: Any, capacity: int | None, out: Any = None) -> bytes | int:
        session = self._app.session(h)
        with session.lock:
            self._check_key_alive(session, slot)
            return operations.single(session, slot, data, capacity, out)

    def _update(self, h: int, slot: OpSlot, data: bytes, capacity: int | None = 0,
                output: bool = False) -> bytes | int:
        session = self._app.session(h)
        with session.lock:
            self._check_key_alive(session, slot)
            return operations.update(session, slot, data, capacity, produces_output=output)

    def _final(self, h: int, slot: OpSlot, capacity: int | None) -> bytes | int:
        session = self._app.session(h)
        with session.lock:
            self._check_key_alive(session, slot)
            return operations.final(session, slot, capacity)

    # --- encrypt / decrypt ---------------------------------------------------------------
    def encrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.ENCRYPT, mech, key)

    def encrypt(self, h: int, data: Any, capacity: int | None, out: Any = None) -> bytes | int:
        """``out``: optionally the caller's writable output buffer (len = capacity); when
        the operation wrote its output there the result is an ``operations.InPlace``."""
        return self._single(h, _ENCRYPT, data, capacity, out)

    def encrypt_update(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._update(h, _ENCRYPT, data, capacity, output=True)

    def encrypt_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._final(h, _ENCRYPT, capacity)

    def decrypt_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.DECRYPT, mech, key)

    def decrypt(self, h: int, data: Any, capacity: int | None) -> bytes | int:
        return self._single(h, _DECRYPT, data, capacity)

    def decrypt_update(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._update(h, _DECRYPT, data, capacity, output=True)

    def decrypt_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._final(h, _DECRYPT, capacity)

    # --- digest ----------------------------------------------------------------------------
    def digest_init(self, h: int, mech: Mechanism) -> None:
        self._begin(h, OpKind.DIGEST, mech, None)

    def digest(self, h: int, data: Any, capacity: int | None) -> bytes | int:
        return self._single(h, _DIGEST, data, capacity)

    def digest_update(self, h: int, data: bytes) -> None:
        self._update(h, _DIGEST, data)

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
        return self._final(h, _DIGEST, capacity)

    # --- sign / verify -----------------------------------------------------------------------
    def sign_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.SIGN, mech, key)

    def sign(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._single(h, _SIGN, data, capacity)

    def sign_update(self, h: int, data: bytes) -> None:
        self._update(h, _SIGN, data)

    def sign_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._final(h, _SIGN, capacity)

    def verify_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.VERIFY, mech, key)

    def verify(self, h: int, data: bytes, signature: bytes) -> None:
        session = self._app.session(h)
        with session.lock:
            self._check_key_alive(session, _VERIFY)
            operations.verify_single(session, data, signature)

    def verify_update(self, h: int, data: bytes) -> None:
        self._update(h, _VERIFY, data)

    def verify_final(self, h: int, signature: bytes) -> None:
        session = self._app.session(h)
        with session.lock:
            self._check_key_alive(session, _VERIFY)
            operations.verify_final(session, signature)

    # --- sign with recovery / verify with recovery ---------------------------------------------
    def sign_recover_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.SIGN_RECOVER, mech, key)

    def sign_recover(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._single(h, OpSlot.SIGN_RECOVER, data, capacity)

    def verify_recover_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._begin(h, OpKind.VERIFY_RECOVER, mech, key)

    def verify_recover(self, h: int, signature: bytes, capacity: int | None) -> bytes | int:
        return self._single(h, OpSlot.VERIFY_RECOVER, signature, capacity)
