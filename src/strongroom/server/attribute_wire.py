"""CK_ATTRIBUTE on p11-kit's wire (the ``aA`` values; docs/protocol.md).

Each attribute travels as: uint32 type, a validity byte (0: CK_UNAVAILABLE_INFORMATION,
nothing follows), uint32 ulValueLen as the sender counts it, then the value encoded by
the *wire class* p11-kit gives the type (p11-kit/rpc-message.c's type map): one byte
for its boolean attributes, a uint64 for its CK_ULONG attributes, a count and nested
attributes for the three templates, a count and uint64s for CKA_ALLOWED_MECHANISMS, and
a byte array for everything else -- including types the map does not know, whose bytes
are then the sender's native C image.

The stream layout depends on p11-kit's map, not on strongroom's schema (CKA_DESTROYABLE
is a boolean here but a byte array there), so the map is this module's table. Values
become strongroom's typed values through the C image and ``pkcs11.attributes.decode``,
the one validator the in-process ABI uses too.
"""
from __future__ import annotations

import struct
from enum import Enum

from .._records import TYPE_CHECKING, NamedTuple
from ..pkcs11 import attributes
from ..pkcs11 import limits as L
from ..pkcs11.constants import CKA, CKR
from ..pkcs11.errors import CKRError
from ..pkcs11.template import Unreadable
from .message import Cursor, MessageError, pack_array

if TYPE_CHECKING:
    from typing import Any

__all__ = ["Wanted", "WireClass", "decode_attributes", "encode_attributes", "encode_get_answer",
           "read_attributes", "read_wanted", "wire_class"]

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_NATIVE_ULONG = struct.Struct("=Q")
_SIZEOF_ATTRIBUTE = L.SIZEOF_ATTRIBUTE


class WireClass(Enum):
    BYTE = "byte"
    ULONG = "ulong"
    ATTRIBUTE_ARRAY = "attribute array"
    MECHANISM_TYPE_ARRAY = "mechanism type array"
    DATE = "date"
    BYTE_ARRAY = "byte array"


_CLASS: dict[int, WireClass] = {
    **{int(a): WireClass.BYTE for a in (
        CKA.TOKEN, CKA.PRIVATE, CKA.TRUSTED, CKA.SENSITIVE, CKA.ENCRYPT, CKA.DECRYPT, CKA.WRAP,
        CKA.UNWRAP, CKA.SIGN, CKA.SIGN_RECOVER, CKA.VERIFY, CKA.VERIFY_RECOVER, CKA.DERIVE,
        CKA.EXTRACTABLE, CKA.LOCAL, CKA.NEVER_EXTRACTABLE, CKA.ALWAYS_SENSITIVE, CKA.MODIFIABLE,
        CKA.COPYABLE, CKA.SECONDARY_AUTH, CKA.ALWAYS_AUTHENTICATE, CKA.WRAP_WITH_TRUSTED,
        CKA.RESET_ON_INIT, CKA.HAS_RESET, CKA.COLOR)},
    **{int(a): WireClass.ULONG for a in (
        CKA.CLASS, CKA.CERTIFICATE_TYPE, CKA.CERTIFICATE_CATEGORY, CKA.JAVA_MIDP_SECURITY_DOMAIN,
        CKA.KEY_TYPE, CKA.MODULUS_BITS, CKA.PRIME_BITS, CKA.SUB_PRIME_BITS, CKA.VALUE_BITS,
        CKA.VALUE_LEN, CKA.KEY_GEN_MECHANISM, CKA.AUTH_PIN_FLAGS, CKA.HW_FEATURE_TYPE, CKA.PIXEL_X,
        CKA.PIXEL_Y, CKA.RESOLUTION, CKA.CHAR_ROWS, CKA.CHAR_COLUMNS, CKA.BITS_PER_PIXEL,
        CKA.MECHANISM_TYPE)},
    **{int(a): WireClass.ATTRIBUTE_ARRAY for a in (CKA.WRAP_TEMPLATE, CKA.UNWRAP_TEMPLATE,
                                                   CKA.DERIVE_TEMPLATE)},
    int(CKA.ALLOWED_MECHANISMS): WireClass.MECHANISM_TYPE_ARRAY,
    int(CKA.START_DATE): WireClass.DATE,
    int(CKA.END_DATE): WireClass.DATE,
}


def wire_class(cka: int) -> WireClass:
    return _CLASS.get(cka, WireClass.BYTE_ARRAY)


def _image(cur: Cursor, cka: int, depth: int) -> Any:
    """The value of one attribute as strongroom's typed value (None: a NULL value)."""
    cls = wire_class(cka)
    if cls is WireClass.BYTE:
        return attributes.decode(cka, bytes(cur.take(1)))
    if cls is WireClass.ULONG:
        return attributes.decode(cka, _NATIVE_ULONG.pack(cur.u64()))
    if cls is WireClass.ATTRIBUTE_ARRAY:
        if depth >= L.MAX_TEMPLATE_DEPTH:
            raise MessageError("templates nested too deep")
        n = cur.count(L.MAX_TEMPLATE_COUNT)
        return tuple(_attribute(cur, depth + 1) for _ in range(n))
    if cls is WireClass.MECHANISM_TYPE_ARRAY:
        n = cur.count(L.MAX_MECHANISM_LIST)
        return tuple(cur.u64() for _ in range(n))
    image = cur.array(attributes.VALUE_MAX.get(cka, L.DEFAULT_VALUE_MAX))
    return None if image is None else attributes.decode(cka, image)


def _attribute(cur: Cursor, depth: int) -> tuple[int, Any]:
    cka = cur.u32()
    if cur.take(1)[0] == 0:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "an attribute without a value in a template")
    cur.u32()                                 # the sender's ulValueLen: the class says the rest
    return cka, _image(cur, cka, depth)


def read_attributes(cur: Cursor) -> list[tuple[int, Any]]:
    """An ``aA`` array at ``cur``: the (type, typed value) template the core takes.
    MessageError for a broken encoding, CKRError (ATTRIBUTE_VALUE_INVALID ...) for a
    well-encoded but invalid value."""
    n = cur.count(L.MAX_TEMPLATE_COUNT)
    return [_attribute(cur, 0) for _ in range(n)]


def decode_attributes(data: bytes, pos: int) -> tuple[list[tuple[int, Any]], int]:
    """An ``aA`` array starting at ``pos`` of ``data``, and the position after it."""
    cur = Cursor(data, pos)
    return read_attributes(cur), cur.pos


def _encode_value(cka: int, value: Any) -> tuple[int, bytes]:
    """(ulValueLen, wire bytes) of a typed value, by the type's wire class."""
    cls = wire_class(cka)
    if cls is WireClass.ATTRIBUTE_ARRAY:
        pairs = attributes.coerce_template(value, cka)
        return len(pairs) * _SIZEOF_ATTRIBUTE, _U32.pack(len(pairs)) + encode_attributes(pairs, counted=False)
    image = attributes.encode(cka, value)
    if cls is WireClass.BYTE:
        return 1, image[:1]
    if cls is WireClass.ULONG:
        return 8, _U64.pack(_NATIVE_ULONG.unpack(image)[0])
    if cls is WireClass.MECHANISM_TYPE_ARRAY:
        values = [v for (v,) in _NATIVE_ULONG.iter_unpack(image)]
        return len(image), _U32.pack(len(values)) + b"".join(_U64.pack(v) for v in values)
    return len(image), pack_array(image)


def encode_attributes(pairs: Any, counted: bool = True) -> bytes:
    """``aA``: (type, value) pairs; a value of None is CK_UNAVAILABLE_INFORMATION."""
    out = bytearray(_U32.pack(len(pairs)) if counted else b"")
    for cka, value in pairs:
        out += _U32.pack(cka)
        if value is None:
            out += b"\x00"
            continue
        length, wire = _encode_value(cka, value)
        out += b"\x01" + _U32.pack(length) + wire
    return bytes(out)


# --- C_GetAttributeValue: ``fA`` in, ``aA`` + CK_RV out (docs/protocol.md) ---------------
class Wanted(NamedTuple):
    """One attribute the caller asks for: its type, its buffer (0: pValue NULL) and, for a
    template attribute with a buffer, the nested requests (p11-kit 0.25.4+ send them)."""

    type: int
    buffer: int
    nested: tuple[Wanted, ...] = ()


def read_wanted(cur: Cursor, nested: bool, depth: int = 0) -> list[Wanted]:
    """An ``fA``: per attribute a uint32 type and a uint32 buffer length; with ``nested``,
    a template attribute with a buffer is followed by its own ``fA``."""
    n = cur.count(L.MAX_GET_COUNT)
    out = []
    for _ in range(n):
        cka, size = cur.u32(), cur.u32()
        inner: tuple[Wanted, ...] = ()
        if nested and size and wire_class(cka) is WireClass.ATTRIBUTE_ARRAY:
            if depth >= L.MAX_TEMPLATE_DEPTH:
                raise MessageError("templates nested too deep")
            inner = tuple(read_wanted(cur, nested, depth + 1))
        out.append(Wanted(cka, size, inner))
    return out


#: What a size query answers in place of a value, by wire class: what p11-kit's reader
#: consumes for it (a count of 0 for the arrays, which its writer gets wrong for
#: CKA_ALLOWED_MECHANISMS).
_PLACEHOLDER = {
    WireClass.BYTE: b"\x00", WireClass.ULONG: bytes(8), WireClass.ATTRIBUTE_ARRAY: bytes(4),
    WireClass.MECHANISM_TYPE_ARRAY: bytes(4), WireClass.DATE: pack_array(None),
    WireClass.BYTE_ARRAY: pack_array(None),
}
_F_SENSITIVE, _F_INVALID, _F_SMALL = 1, 2, 4


def _answer_one(want: Wanted, value: Any, out: bytearray) -> int:
    """Append one attribute of the answer; the flags it raises."""
    out += _U32.pack(want.type)
    if value is Unreadable.SENSITIVE or value is Unreadable.INVALID:
        out += b"\x00"
        return _F_SENSITIVE if value is Unreadable.SENSITIVE else _F_INVALID
    length, wire = _encode_value(want.type, value)
    if want.buffer == 0:                      # pValue NULL: the length and a placeholder
        out += b"\x01" + _U32.pack(length) + _PLACEHOLDER[wire_class(want.type)]
        return 0
    if want.buffer < length:                  # too small: CK_UNAVAILABLE_INFORMATION
        out += b"\x00"
        return _F_SMALL
    out += b"\x01" + _U32.pack(length) + wire
    return 0


def encode_get_answer(wanted: list[Wanted], values: list[Any]) -> tuple[bytes, int]:
    """The ``aA`` of a C_GetAttributeValue answer and its CK_RV (SENSITIVE before
    TYPE_INVALID before BUFFER_TOO_SMALL, as in-process)."""
    out = bytearray(_U32.pack(len(wanted)))
    flags = 0
    for want, value in zip(wanted, values, strict=True):
        flags |= _answer_one(want, value, out)
    if flags & _F_SENSITIVE:
        return bytes(out), CKR.ATTRIBUTE_SENSITIVE
    if flags & _F_INVALID:
        return bytes(out), CKR.ATTRIBUTE_TYPE_INVALID
    return bytes(out), (CKR.BUFFER_TOO_SMALL if flags else CKR.OK)
