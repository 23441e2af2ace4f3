"""The steps every cryptographic C function shares: find the session, check that a token
key still exists, hand over to the operation state machine (token/operations.py, which
owns the two-call convention). token/crypto_calls.py and sign_calls.py are the C
functions; they only pick the operation kind and the slot.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..mechanisms.registry import OpKind
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from . import operations
from .objects import SESSION_HANDLE_BASE
from .sessions import ActiveOperation, OpSlot, Session
from .types import Mechanism

if TYPE_CHECKING:
    from typing import Any

    from .application import Application


class OperationSteps:
    def __init__(self, app: Application) -> None:
        self._app = app

    def begin(self, h: int, kind: OpKind, mech: Mechanism, key: int | None) -> None:
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

    def check_key_alive(self, session: Session, slot: OpSlot) -> None:
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

    def single(self, h: int, slot: OpSlot, data: Any, capacity: int | None, out: Any = None) -> bytes | int:
        session = self._app.session(h)
        with session.lock:
            self.check_key_alive(session, slot)
            return operations.single(session, slot, data, capacity, out)

    def update(self, h: int, slot: OpSlot, data: bytes, capacity: int | None = 0,
                output: bool = False) -> bytes | int:
        session = self._app.session(h)
        with session.lock:
            self.check_key_alive(session, slot)
            return operations.update(session, slot, data, capacity, produces_output=output)

    def final(self, h: int, slot: OpSlot, capacity: int | None) -> bytes | int:
        session = self._app.session(h)
        with session.lock:
            self.check_key_alive(session, slot)
            return operations.final(session, slot, capacity)

    def verify(self, h: int, data: bytes, signature: bytes) -> None:
        session = self._app.session(h)
        with session.lock:
            self.check_key_alive(session, OpSlot.VERIFY)
            operations.verify_single(session, data, signature)

    def verify_final(self, h: int, signature: bytes) -> None:
        session = self._app.session(h)
        with session.lock:
            self.check_key_alive(session, OpSlot.VERIFY)
            operations.verify_final(session, signature)
