"""The one exception type that carries a PKCS#11 return value.

Every layer below the C ABI raises :class:`CKRError`; the ABI maps it to the
``CK_RV`` it returns. Messages must never contain secret material (PINs, key
bytes): they may reach log files.
"""
from __future__ import annotations

from .constants import CKR


class CKRError(Exception):
    """A PKCS#11 error with its CKR code.

    ``length`` is set with ``CKR_BUFFER_TOO_SMALL`` (and size queries) so the ABI
    can write the required output length back to the caller (v2.40 §5.2).
    """

    def __init__(self, rv: int, message: str = "", *, length: int | None = None) -> None:
        self.rv = CKR(rv) if rv in CKR._value2member_map_ else rv
        self.length = length
        name = self.rv.name if isinstance(self.rv, CKR) else hex(rv)
        super().__init__(f"CKR_{name}" + (f": {message}" if message else ""))
