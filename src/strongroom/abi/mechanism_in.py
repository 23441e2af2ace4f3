"""CK_MECHANISM and per-message parameters in: C structs -> ``token.types.Mechanism``.

The parameter's Python type comes from ``pkcs11.mechanism_params.PARAM_TYPE`` (never
from the mechanisms package: that would import the families, pyca, at the first
parameter), its decoder from ``abi.params``. Both are imported at the first mechanism
that has a parameter, not at C_Initialize (cold start).
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as _limits
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..token.inprocess import APPLICATION
from ..token.types import Mechanism
from .extern import ARGUMENTS_BAD
from .native import ffi

if TYPE_CHECKING:
    from typing import Any

    from .params import Decoder, Writer

_buffer = ffi.buffer
_bare: dict[int, Mechanism] = {}   # Mechanism(m, None) is immutable: one per CKM
_MAX_RAW_PARAM = _limits.MAX_RAW_PARAM_LEN
_PARAM_INVALID = int(CKR.MECHANISM_PARAM_INVALID)


_param_types: dict[int, type] | None = None
_decoders: dict[type, Decoder] = {}
_writers: dict[type, Writer] = {}


def _load() -> dict[int, type]:
    """PARAM_TYPE, and abi.params' DECODERS and WRITERS, imported on first use."""
    global _param_types, _decoders, _writers
    if _param_types is None:
        from ..pkcs11.mechanism_params import PARAM_TYPE
        from .params import DECODERS, WRITERS

        _decoders, _writers = DECODERS, WRITERS
        _param_types = PARAM_TYPE
    return _param_types


def decoder(ptype: type | None) -> Decoder | None:
    """The struct decoder of a parameter type (None: raw bytes or no parameter)."""
    _load()
    return _decoders.get(ptype) if ptype is not None else None


def writer(ptype: type | None) -> Writer | None:
    """The writer of a parameter type with output fields (GCM / ChaCha20 message IVs, tags)."""
    _load()
    return _writers.get(ptype) if ptype is not None else None


def raw_param(p: Any, n: int) -> bytes:
    """A parameter without a struct decoder (an IV, or an unknown mechanism's): bounded
    by MAX_RAW_PARAM_LEN before it is read (v3.0 §5.1.6: CKR_MECHANISM_PARAM_INVALID)."""
    if n > _MAX_RAW_PARAM:
        raise CKRError(_PARAM_INVALID, f"ulParameterLen above {_MAX_RAW_PARAM} (pkcs11/limits.py)")
    return _buffer(p, n)[:] if n else b""


def mechanism(pm: Any) -> Mechanism:
    """A CK_MECHANISM* (never NULL: the C wrapper checked) as a Mechanism."""
    m = pm.mechanism
    p = pm.pParameter
    n = pm.ulParameterLen
    if not p:
        if n:
            raise CKRError(ARGUMENTS_BAD, "NULL pParameter with nonzero ulParameterLen")
        mech = _bare.get(m)
        if mech is None:
            mech = Mechanism(m, None)
            if len(_bare) < 4096:
                _bare[m] = mech
        return mech
    ptype = (_param_types if _param_types is not None else _load()).get(m)
    dec = _decoders.get(ptype) if ptype is not None else None
    if dec is None:             # raw bytes; an unknown mechanism: the core says MECHANISM_INVALID
        return Mechanism(m, raw_param(p, n))
    return Mechanism(m, dec(ffi, p, n))   # struct size and nested lengths checked (abi/params.py)


_message_param_type = APPLICATION.messages.message_param_type


def message_param(h: int, encrypt: bool, p: Any, n: int) -> tuple[type | None, Any]:
    """A per-message parameter for the session's active message operation, decoded:
    (its type, its value)."""
    ptype = _message_param_type(h, encrypt)
    dec = decoder(ptype)
    if dec is None:
        return ptype, (raw_param(p, n) if (p and n) else None)
    if not p:
        raise CKRError(_PARAM_INVALID, "this mechanism needs a per-message parameter")
    return ptype, dec(ffi, p, n)
