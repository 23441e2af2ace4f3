"""CK_MECHANISM (``M``) and per-message parameters on the wire, read and written by the
rows of ``pkcs11/param_layouts.py`` -- the rows the in-process ABI reads C structs with
and the C client's encoder table is generated from (docs/protocol.md "Mechanisms").

A mechanism is a uint32 type and its parameter, whose form the type alone decides: a
struct's members in row order (CK_ULONG uint64, CK_BBOOL one byte, pointer or array a
byte array), a CK_ULONG parameter one uint64, anything else one byte array (None for
p11-kit's NULL). For the structs p11-kit serialises this is its encoding byte for byte.

Bounds: a byte array is read only if it fits the frame (the frame is bounded already);
a member longer than its ``PARAM_FIELD_MAX`` bound (AAD: ``max_data_len``) is
CKR_MECHANISM_PARAM_INVALID, as in the ABI (v3.0 §5.1.6). A parameter that ends early or
trails bytes breaks the message: the connection closes.
"""
from __future__ import annotations

import struct

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as L
from ..pkcs11.constants import CKR
from ..pkcs11.errors import CKRError
from ..pkcs11.param_layouts import BOOL, INLINE, LAYOUTS, ULONG
from ..token.types import Mechanism
from .message import Cursor, pack_array

if TYPE_CHECKING:
    from typing import Any

    from ..pkcs11.param_layouts import Field

__all__ = ["NULL_MECHANISM", "decode_mechanism", "decode_param", "encode_param"]

NULL_MECHANISM = 0xFFFFFFFF
_U64 = struct.Struct(">Q")
_ANY = 0x7FFFFFFE                 # below message.py's protocol ceiling: the frame bounds it
_param_types: dict[int, type] | None = None


def _types() -> dict[int, type]:
    """PARAM_TYPE, imported at the first mechanism (it builds the CKM enum)."""
    global _param_types
    if _param_types is None:
        from ..pkcs11.mechanism_params import PARAM_TYPE

        _param_types = PARAM_TYPE
    return _param_types


def _bad(what: str) -> CKRError:
    return CKRError(CKR.MECHANISM_PARAM_INVALID, what)


def _bound(f: Field, data_max: int) -> int:
    if isinstance(f.limit, int):
        return f.limit or f.size
    return data_max if f.limit == "data" else L.PARAM_FIELD_MAX[f.limit]


def _member(cur: Cursor, f: Field, data_max: int) -> Any:
    if f.kind == ULONG:
        return cur.u64()
    if f.kind == BOOL:
        return bool(cur.take(1)[0])
    raw = cur.array(_ANY)
    value = b"" if raw is None else raw
    if f.kind == INLINE and len(value) != f.size:
        raise _bad(f"{f.member}: {len(value)} bytes, the struct holds {f.size}")
    if len(value) > _bound(f, data_max):
        raise _bad(f"{f.member}: length {len(value)} above its maximum (pkcs11/limits.py)")
    return value


def decode_param(ptype: type | None, cur: Cursor, data_max: int) -> Any:
    """The parameter of type ``ptype`` (a params dataclass, ``int``, ``bytes`` or None)
    at ``cur``: the dataclass, an int, or bytes / None (a NULL array)."""
    layout = LAYOUTS.get(ptype) if ptype is not None else None
    if ptype is not None and layout is not None:
        return ptype(**{f.name: _member(cur, f, data_max) for f in layout.fields})
    if ptype is int:
        return cur.u64()
    raw = cur.array(L.MAX_RAW_PARAM_LEN)
    return raw


def decode_mechanism(cur: Cursor, data_max: int, raw: bool = False, marked: bool = False) -> Mechanism:
    """``M`` at ``cur``. A NULL mechanism (0xFFFFFFFF alone, p11-kit 0.25.3+) is
    CKR_ARGUMENTS_BAD, as a NULL pMechanism is in-process. ``raw``: the parameter is one
    byte array whatever the mechanism (the message-based init calls, whose mechanisms
    take their parameters per message: docs/protocol.md "Mechanisms").

    ``marked`` (extension level 1): a struct parameter is preceded by one byte, 1 for the
    struct, 0 for none at all (pParameter NULL, ulParameterLen 0), which mechanisms with
    an optional parameter take -- CKM_EDDSA (pure Ed25519/Ed448, v3.0 §2.3.14),
    CKM_ML_DSA (v3.2). p11-kit's form has no way to say it."""
    mech = cur.u32()
    if mech == NULL_MECHANISM:
        raise CKRError(CKR.ARGUMENTS_BAD, "NULL mechanism")
    ptype = None if raw else _types().get(mech)
    if marked and ptype is not None and ptype in LAYOUTS:
        present = cur.take(1)[0]
        if present == 0:
            return Mechanism(mech, None)
        if present != 1:
            raise _bad(f"parameter marker {present}: 0 (none) or 1 (the struct)")
    return Mechanism(mech, decode_param(ptype, cur, data_max))


def _encode_member(f: Field, value: Any) -> bytes:
    if f.kind == ULONG:
        return _U64.pack(value)
    if f.kind == BOOL:
        return b"\x01" if value else b"\x00"
    return pack_array(value)


def encode_param(ptype: type | None, value: Any) -> bytes:
    """The flattened image of a parameter (what the C client writes back: a message
    parameter with the token's tag and generated IV)."""
    layout = LAYOUTS.get(ptype) if ptype is not None else None
    if layout is not None:
        return b"".join(_encode_member(f, getattr(value, f.name)) for f in layout.fields)
    if ptype is int:
        return _U64.pack(value)
    return pack_array(value)
