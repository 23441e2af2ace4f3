"""C mechanism-parameter structs -> ``strongroom.pkcs11.params`` dataclasses, read by the
rows of ``pkcs11/param_layouts.py`` (the table the service and the C client read too).

``DECODERS`` maps each parameter dataclass to a function ``(ffi, pParameter, length)``
returning an instance. The ABI picks the dataclass from
``pkcs11.mechanism_params.PARAM_TYPE`` (abi/mechanism_in.py); a struct of the wrong size or
an inner NULL pointer with a nonzero length is CKR_MECHANISM_PARAM_INVALID. Decoders copy
every byte string out of caller memory before returning.

Lying lengths: the struct size is compared with ``sizeof`` before the struct is read, and
every nested length (IV, AAD, label, salt, info, context ...) with its maximum in
``pkcs11/limits.py`` (``PARAM_FIELD_MAX``; AAD: the running ``max_data_len``) before its
bytes are read; anything larger is CKR_MECHANISM_PARAM_INVALID (v3.0 §5.1.6).
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as L
from ..pkcs11 import params as P
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..pkcs11.param_layouts import BITS_BYTES, BOOL, BYTES, INLINE, LAYOUTS, ULONG
from ..token.inprocess import APPLICATION

if TYPE_CHECKING:   # typing stays off the C_Initialize path (strongroom._records)
    from collections.abc import Callable
    from typing import Any

    from ..pkcs11.param_layouts import Field, Layout

    #: (ffi, pParameter, ulParameterLen) -> the parameter dataclass (or int)
    Decoder = Callable[[Any, Any, int], Any]
    #: (ffi, pParameter, ulParameterLen, value) -> None: value's output fields into the struct
    Writer = Callable[[Any, Any, int, Any], None]


def _bad(what: str) -> CKRError:
    return CKRError(CKR.MECHANISM_PARAM_INVALID, what)


_FIELD_MAX = L.PARAM_FIELD_MAX


def _limit(limit: int | str) -> int:
    """A field's bound: a byte count, a PARAM_FIELD_MAX key, or "data" -- the running
    ``max_data_len`` (AAD is bounded as the data itself)."""
    if isinstance(limit, int):
        return limit
    if limit == "data":
        config = APPLICATION.config
        return (config.max_data_len if config is not None else 0) or L.DEFAULT_DATA_MAX
    return _FIELD_MAX[limit]


def _bytes(ffi: Any, ptr: Any, n: int, what: str, limit: int | str) -> bytes:
    """``n`` bytes at ``ptr``, checked against ``limit`` before the memory is touched."""
    if n == 0:
        return b""
    most = _limit(limit)
    if n > most:
        raise _bad(f"{what}: length {n} above its maximum {most} (pkcs11/limits.py)")
    if not ptr:
        raise _bad(f"{what}: NULL pointer with nonzero length")
    raw: bytes = ffi.buffer(ptr, n)[:]
    return raw


def _room(s: Any, f: Field) -> int:
    """How many bytes a pointer field addresses, from the struct's own members."""
    if f.kind == BYTES:
        n: int = getattr(s, f.length)
        return n
    if f.kind == BITS_BYTES:
        return (int(getattr(s, f.length)) + 7) // 8
    return f.size                                # FIXED_BYTES


def _field(ffi: Any, s: Any, f: Field) -> Any:
    if f.kind == ULONG:
        return int(getattr(s, f.member))
    if f.kind == BOOL:
        return bool(getattr(s, f.member))
    if f.kind == INLINE:
        return ffi.buffer(getattr(s, f.member), f.size)[:]
    ptr = ffi.cast("CK_BYTE_PTR", getattr(s, f.member))
    return _bytes(ffi, ptr, _room(s, f), f.member, f.limit or f.size)


def _struct(ffi: Any, ptr: Any, n: int, ctype: str) -> Any:
    if n != ffi.sizeof(ctype):
        raise _bad(f"{ctype}: ulParameterLen {n}, expected {ffi.sizeof(ctype)}")
    return ffi.cast(ctype + " *", ptr)[0]


def _reader(cls: type, layout: Layout) -> Decoder:
    ctype, fields = layout

    def decode(ffi: Any, ptr: Any, n: int) -> Any:
        s = _struct(ffi, ptr, n, ctype)
        return cls(**{f.name: _field(ffi, s, f) for f in fields})

    decode.__name__ = f"decode_{ctype}"
    return decode


def _put(ffi: Any, dst: Any, value: bytes, room: int, what: str) -> None:
    if len(value) > room:
        raise RuntimeError(f"mechanism returned a {what} longer than the caller's buffer")
    if value:
        if not dst:
            raise _bad(f"{what}: NULL output pointer")
        ffi.memmove(dst, value, len(value))


def _writer(layout: Layout) -> Writer:
    ctype = layout.ctype
    outs = [f for f in layout.fields if f.out]

    def write(ffi: Any, ptr: Any, n: int, value: Any) -> None:
        s = _struct(ffi, ptr, n, ctype)
        for f in outs:
            _put(ffi, getattr(s, f.member), getattr(value, f.name), _room(s, f), f.member)

    return write


_gcm_struct = _reader(P.GcmParams, LAYOUTS[P.GcmParams])


def _gcm(ffi: Any, ptr: Any, n: int) -> P.GcmParams:
    if n == 5 * 8:
        # v2.40 *document* layout (no ulIvBits): {pIv, ulIvLen, pAAD, ulAADLen, ulTagBits}
        u = ffi.cast("CK_ULONG *", ptr)
        iv = _bytes(ffi, ffi.cast("CK_BYTE_PTR", u[0]), u[1], "pIv", "gcm_iv")
        aad = _bytes(ffi, ffi.cast("CK_BYTE_PTR", u[2]), u[3], "pAAD", "data")
        return P.GcmParams(iv=iv, iv_bits=len(iv) * 8, aad=aad, tag_bits=u[4])
    gcm: P.GcmParams = _gcm_struct(ffi, ptr, n)
    return gcm


def _ulong(ffi: Any, ptr: Any, n: int) -> int:
    """A plain CK_ULONG parameter (CK_MAC_GENERAL_PARAMS, ...)."""
    if n != ffi.sizeof("CK_ULONG"):
        raise _bad(f"CK_ULONG parameter: ulParameterLen {n}")
    return int(ffi.cast("CK_ULONG *", ptr)[0])


DECODERS: dict[type, Decoder] = {cls: _reader(cls, layout) for cls, layout in LAYOUTS.items()}
DECODERS[P.GcmParams] = _gcm
DECODERS[int] = _ulong

#: Writers for parameters with output fields: ``(ffi, pParameter, length, value)`` copies the
#: outputs of ``value`` (what the mechanism returned) back into the caller's struct.
WRITERS: dict[type, Writer] = {cls: _writer(layout) for cls, layout in LAYOUTS.items()
                               if any(f.out for f in layout.fields)}
