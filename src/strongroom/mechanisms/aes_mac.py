"""CKM_AES_CMAC and CKM_AES_CMAC_GENERAL (PKCS#11 v3.0 Current Mechanisms §2.10.9-10;
NIST SP 800-38B) through pyca's ``cmac``.

CMAC gives the full 16-byte MAC; CMAC_GENERAL takes CK_MAC_GENERAL_PARAMS (a CK_ULONG,
decoded as ``int``), the output length 1..16, else CKR_MECHANISM_PARAM_INVALID. Both are
multi-part. Verification recomputes and compares in constant time; a signature of the
wrong length is CKR_SIGNATURE_LEN_RANGE, a wrong MAC CKR_SIGNATURE_INVALID.
"""
from __future__ import annotations

from cryptography.hazmat.primitives import cmac, constant_time, hmac
from cryptography.hazmat.primitives.ciphers import algorithms

from .._records import TYPE_CHECKING
from ..pkcs11.constants import CKK, CKM, CKR
from ..pkcs11.constants import MechanismFlag as F
from ..pkcs11.errors import CKRError
from .keys import AES_KEY_LENGTHS, load_secret
from .registry import KeyMaterial, MechanismEntry, Operation, OpKind, key_for, register

if TYPE_CHECKING:
    from .registry import OperationFactory


class MacOperation(Operation):
    """A MAC truncated to ``length`` bytes; ``final`` signs, ``verify`` checks.

    ``ctx`` is a pyca CMAC or HMAC context (``update`` / ``finalize``).
    """

    multipart = True

    def __init__(self, ctx: cmac.CMAC | hmac.HMAC, length: int) -> None:
        self._ctx, self._len = ctx, length

    def update(self, data: bytes) -> bytes:
        self._ctx.update(data)
        return b""

    def final(self) -> bytes:
        return self._ctx.finalize()[: self._len]

    def verify(self, signature: bytes) -> None:
        if len(signature) != self._len:
            raise CKRError(CKR.SIGNATURE_LEN_RANGE, f"MAC must be {self._len} bytes")
        if not constant_time.bytes_eq(self.final(), signature):
            raise CKRError(CKR.SIGNATURE_INVALID, "MAC mismatch")


def general_length(param: object, full: int) -> int:
    """CK_MAC_GENERAL_PARAMS: 1..full, else MECHANISM_PARAM_INVALID."""
    if not isinstance(param, int) or isinstance(param, bool) or not 0 < param <= full:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"MAC length must be 1..{full}")
    return param


def _factory(mech: int, general: bool) -> OperationFactory:
    def operation(kind: OpKind, key: KeyMaterial | None, param: object) -> Operation:
        key = key_for(mech, kind, (OpKind.SIGN, OpKind.VERIFY), key)
        length = general_length(param, 16) if general else 16
        value = key.parsed(load_secret)
        if len(value) not in AES_KEY_LENGTHS:
            raise CKRError(CKR.KEY_SIZE_RANGE, "AES key must be 16, 24 or 32 bytes")
        return MacOperation(cmac.CMAC(algorithms.AES(value)), length)

    return operation


for _mech, _general in ((CKM.AES_CMAC, False), (CKM.AES_CMAC_GENERAL, True)):
    register(MechanismEntry(
        mechanism=_mech, flags=F.SIGN | F.VERIFY, key_types=frozenset({CKK.AES}),
        min_key_size=min(AES_KEY_LENGTHS), max_key_size=max(AES_KEY_LENGTHS),
        operation=_factory(_mech, _general),
    ))
