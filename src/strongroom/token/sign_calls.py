"""Signatures and MACs (v2.40 §5.11-§5.12 / v3.0 §5.11-§5.12): sign, verify and the
recover variants, each C function a thin method naming its operation kind and slot; the
shared steps are token/operation_steps.py's.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..mechanisms.registry import OpKind
from .operation_steps import OperationSteps
from .sessions import OpSlot
from .types import Mechanism

if TYPE_CHECKING:
    from .application import Application

_SIGN, _VERIFY = OpSlot.SIGN, OpSlot.VERIFY


class SignatureCalls:
    def __init__(self, app: Application, steps: OperationSteps) -> None:
        self._app = app
        self._steps = steps

    # --- sign / verify -----------------------------------------------------------------------
    def sign_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._steps.begin(h, OpKind.SIGN, mech, key)

    def sign(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._steps.single(h, _SIGN, data, capacity)

    def sign_update(self, h: int, data: bytes) -> None:
        self._steps.update(h, _SIGN, data)

    def sign_final(self, h: int, capacity: int | None) -> bytes | int:
        return self._steps.final(h, _SIGN, capacity)

    def verify_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._steps.begin(h, OpKind.VERIFY, mech, key)

    def verify(self, h: int, data: bytes, signature: bytes) -> None:
        self._steps.verify(h, data, signature)

    def verify_update(self, h: int, data: bytes) -> None:
        self._steps.update(h, _VERIFY, data)

    def verify_final(self, h: int, signature: bytes) -> None:
        self._steps.verify_final(h, signature)

    # --- sign with recovery / verify with recovery ---------------------------------------------
    def sign_recover_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._steps.begin(h, OpKind.SIGN_RECOVER, mech, key)

    def sign_recover(self, h: int, data: bytes, capacity: int | None) -> bytes | int:
        return self._steps.single(h, OpSlot.SIGN_RECOVER, data, capacity)

    def verify_recover_init(self, h: int, mech: Mechanism, key: int) -> None:
        self._steps.begin(h, OpKind.VERIFY_RECOVER, mech, key)

    def verify_recover(self, h: int, signature: bytes, capacity: int | None) -> bytes | int:
        return self._steps.single(h, OpSlot.VERIFY_RECOVER, signature, capacity)
