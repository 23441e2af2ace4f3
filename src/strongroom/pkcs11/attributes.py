"""Typed attribute values and their codec (typed Python value <-> C byte image).

Why a table: every layer must agree on what Python type an attribute holds, and the
ABI must turn a ``CK_ATTRIBUTE`` into that type without knowing object classes. The
kind of an attribute depends only on its CKA (base spec §4: each attribute has one
data type), so one ``{CKA: AttrKind}`` table is enough. Types not in the table are
``BYTES``; the validator (template.py) then rejects them as ATTRIBUTE_TYPE_INVALID.

C images: CK_BBOOL is 1 byte, CK_ULONG 8 bytes little-endian (Linux x86-64/aarch64
LP64), CK_DATE 8 ASCII digits "YYYYMMDD" or empty, RFC2279 strings UTF-8 without NUL,
CK_MECHANISM_TYPE arrays a packed CK_ULONG array. Template attributes
(``CKF_ARRAY_ATTRIBUTE``) are pointers in C, so the ABI decodes them itself; here
they get a storage image only (see :func:`_encode_template`).
"""
from __future__ import annotations

import datetime
import struct
from enum import Enum

from .._records import TYPE_CHECKING
from . import limits as L
from .constants import CKA, CKR
from .errors import CKRError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

ULONG_MAX = 0xFFFFFFFFFFFFFFFF
_ULONG = struct.Struct("<Q")


class AttrKind(Enum):
    """The Python shape of an attribute value (design.md, "Typed attribute values")."""

    BOOL = "bool"              # bool
    ULONG = "ulong"            # int, 0 <= v < 2**64
    BYTES = "bytes"            # bytes (big integers are big-endian bytes, as in C)
    STRING = "string"          # str (RFC2279 / UTF-8)
    DATE = "date"              # bytes: b"" or 8 ASCII digits
    MECHANISMS = "mechanisms"  # tuple[int, ...] (any CK_ULONG array)
    TEMPLATE = "template"      # tuple[tuple[int, value], ...]


_BOOL = (
    CKA.TOKEN, CKA.PRIVATE, CKA.TRUSTED, CKA.SENSITIVE, CKA.ENCRYPT, CKA.DECRYPT,
    CKA.WRAP, CKA.UNWRAP, CKA.SIGN, CKA.SIGN_RECOVER, CKA.VERIFY, CKA.VERIFY_RECOVER,
    CKA.DERIVE, CKA.EXTRACTABLE, CKA.LOCAL, CKA.NEVER_EXTRACTABLE, CKA.ALWAYS_SENSITIVE,
    CKA.MODIFIABLE, CKA.COPYABLE, CKA.DESTROYABLE, CKA.ALWAYS_AUTHENTICATE,
    CKA.WRAP_WITH_TRUSTED, CKA.OTP_USER_FRIENDLY_MODE, CKA.RESET_ON_INIT, CKA.HAS_RESET,
    CKA.COLOR, CKA.X2RATCHET_BOBS1STMSG, CKA.X2RATCHET_ISALICE, CKA.ENCAPSULATE,
    CKA.DECAPSULATE, CKA.SECONDARY_AUTH,
)
_ULONG_ATTRS = (
    CKA.CLASS, CKA.CERTIFICATE_TYPE, CKA.CERTIFICATE_CATEGORY, CKA.JAVA_MIDP_SECURITY_DOMAIN,
    CKA.NAME_HASH_ALGORITHM, CKA.KEY_TYPE, CKA.MODULUS_BITS, CKA.PRIME_BITS,
    CKA.SUB_PRIME_BITS, CKA.VALUE_BITS, CKA.VALUE_LEN, CKA.KEY_GEN_MECHANISM,
    CKA.AUTH_PIN_FLAGS, CKA.OTP_FORMAT, CKA.OTP_LENGTH, CKA.OTP_TIME_INTERVAL,
    CKA.OTP_CHALLENGE_REQUIREMENT, CKA.OTP_TIME_REQUIREMENT, CKA.OTP_COUNTER_REQUIREMENT,
    CKA.OTP_PIN_REQUIREMENT, CKA.HW_FEATURE_TYPE, CKA.PIXEL_X, CKA.PIXEL_Y, CKA.RESOLUTION,
    CKA.CHAR_ROWS, CKA.CHAR_COLUMNS, CKA.BITS_PER_PIXEL, CKA.MECHANISM_TYPE, CKA.PROFILE_ID,
    CKA.X2RATCHET_BAGSIZE, CKA.X2RATCHET_NR, CKA.X2RATCHET_NS, CKA.X2RATCHET_PNS,
    CKA.HSS_LEVELS, CKA.HSS_LMS_TYPE, CKA.HSS_LMOTS_TYPE, CKA.HSS_KEYS_REMAINING,
    CKA.PARAMETER_SET, CKA.OBJECT_VALIDATION_FLAGS, CKA.VALIDATION_TYPE,
    CKA.VALIDATION_LEVEL, CKA.VALIDATION_FLAG, CKA.VALIDATION_AUTHORITY_TYPE,
    CKA.TRUST_SERVER_AUTH, CKA.TRUST_CLIENT_AUTH, CKA.TRUST_CODE_SIGNING,
    CKA.TRUST_EMAIL_PROTECTION, CKA.TRUST_IPSEC_IKE, CKA.TRUST_TIME_STAMPING,
    CKA.TRUST_OCSP_SIGNING,
)
_STRING = (
    CKA.LABEL, CKA.UNIQUE_ID, CKA.APPLICATION, CKA.URL, CKA.CHAR_SETS, CKA.ENCODING_METHODS,
    CKA.MIME_TYPES, CKA.OTP_TIME, CKA.OTP_USER_IDENTIFIER, CKA.OTP_SERVICE_IDENTIFIER,
    CKA.OTP_SERVICE_LOGO_TYPE, CKA.VALIDATION_MODULE_ID, CKA.VALIDATION_COUNTRY,
    CKA.VALIDATION_CERTIFICATE_IDENTIFIER, CKA.VALIDATION_CERTIFICATE_URI,
    CKA.VALIDATION_VENDOR_URI, CKA.VALIDATION_PROFILE,
)
_DATE = (CKA.START_DATE, CKA.END_DATE)
# CKA_ALLOWED_MECHANISMS and the HSS type lists are CK_ULONG arrays.
_MECHANISMS = (CKA.ALLOWED_MECHANISMS, CKA.HSS_LMS_TYPES, CKA.HSS_LMOTS_TYPES)
_TEMPLATE = (
    CKA.WRAP_TEMPLATE, CKA.UNWRAP_TEMPLATE, CKA.DERIVE_TEMPLATE,
    CKA.ENCAPSULATE_TEMPLATE, CKA.DECAPSULATE_TEMPLATE,
)


def _kinds() -> dict[int, AttrKind]:
    table = {int(a): AttrKind.BYTES for a in CKA}
    for kind, names in ((AttrKind.BOOL, _BOOL), (AttrKind.ULONG, _ULONG_ATTRS),
                        (AttrKind.STRING, _STRING), (AttrKind.DATE, _DATE),
                        (AttrKind.MECHANISMS, _MECHANISMS), (AttrKind.TEMPLATE, _TEMPLATE)):
        for a in names:
            table[int(a)] = kind
    return table


ATTRIBUTE_KINDS: dict[int, AttrKind] = _kinds()
"""Every CKA in constants -> its kind; anything else is BYTES (see :func:`kind`)."""


def _value_maxima() -> dict[int, int]:
    """{CKA: largest ulValueLen} for every type with a bound of its own: the fixed-size
    kinds by their C size, CK_ULONG arrays and nested templates by their entry limits,
    then the per-type table of ``pkcs11/limits.py``. Other types: the caller's cap (the
    ABI's quota, the service's DEFAULT_VALUE_MAX). Read by abi/marshal.py and
    server/attribute_wire.py."""
    by_kind = {AttrKind.BOOL: L.SIZEOF_BBOOL, AttrKind.ULONG: L.SIZEOF_ULONG,
               AttrKind.DATE: L.SIZEOF_DATE,
               AttrKind.MECHANISMS: L.SIZEOF_ULONG * L.MAX_MECHANISM_LIST,
               AttrKind.TEMPLATE: L.SIZEOF_ATTRIBUTE * L.MAX_TEMPLATE_COUNT}
    table = {t: by_kind[k] for t, k in ATTRIBUTE_KINDS.items() if k in by_kind}
    table.update({int(t): n for t, n in L.ATTRIBUTE_VALUE_MAX.items()})
    return table


VALUE_MAX: dict[int, int] = _value_maxima()


def kind(cka: int) -> AttrKind:
    """The kind of ``cka``; unknown (vendor, future) types are opaque bytes."""
    return ATTRIBUTE_KINDS.get(int(cka), AttrKind.BYTES)


def _invalid(cka: int, why: str) -> CKRError:
    name = CKA(cka).name if cka in CKA._value2member_map_ else hex(cka)
    return CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"CKA_{name}: {why}")


def _check_date(cka: int, raw: bytes) -> bytes:
    if raw and (len(raw) != 8 or not raw.isdigit() or not raw.isascii()):
        raise _invalid(cka, "CK_DATE must be empty or 8 ASCII digits")
    return raw


# --- decode: C byte image -> typed value ------------------------------------------

def decode(cka: int, raw: bytes) -> Any:
    """Typed value of the C image ``raw``; wrong length/encoding -> ATTRIBUTE_VALUE_INVALID.

    For TEMPLATE attributes ``raw`` is the storage image made by :func:`encode`
    (the ABI decodes the C array of CK_ATTRIBUTE itself).
    """
    cka = int(cka)
    raw = bytes(raw)
    k = kind(cka)
    if k is AttrKind.BOOL:
        if len(raw) != 1:
            raise _invalid(cka, "CK_BBOOL must be 1 byte")
        return raw != b"\x00"          # any nonzero byte is CK_TRUE (C truthiness)
    if k is AttrKind.ULONG:
        if len(raw) != 8:
            raise _invalid(cka, "CK_ULONG must be 8 bytes")
        return _ULONG.unpack(raw)[0]
    if k is AttrKind.STRING:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid(cka, "not valid UTF-8") from None
    if k is AttrKind.DATE:
        return _check_date(cka, raw)
    if k is AttrKind.MECHANISMS:
        if len(raw) % 8:
            raise _invalid(cka, "CK_ULONG array length must be a multiple of 8")
        return tuple(v for (v,) in _ULONG.iter_unpack(raw))
    if k is AttrKind.TEMPLATE:
        return _decode_template(cka, raw)
    return raw


# --- encode: typed value -> C byte image --------------------------------------------

def encode(cka: int, value: Any) -> bytes:
    """C image of a typed value (TEMPLATE: the storage image). Validates via :func:`coerce`."""
    cka = int(cka)
    v = coerce(cka, value)
    k = kind(cka)
    if k is AttrKind.BOOL:
        return b"\x01" if v else b"\x00"
    if k is AttrKind.ULONG:
        return _ULONG.pack(v)
    if k is AttrKind.STRING:
        text: str = v
        return text.encode("utf-8")
    if k is AttrKind.MECHANISMS:
        return b"".join(_ULONG.pack(m) for m in v)
    if k is AttrKind.TEMPLATE:
        return _encode_template(v)
    image: bytes = v      # BYTES / BIGINT / DATE: coerce checked it is bytes
    return image


# --- coerce: Python-friendly input -> typed value ---------------------------------

def _ulong(cka: int, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _invalid(cka, "expected int")
    if not 0 <= v <= ULONG_MAX:
        raise _invalid(cka, "out of CK_ULONG range")
    return int(v)


def coerce(cka: int, value: Any) -> Any:
    """Validate a value given by an in-process caller and return its canonical form.

    Strict on purpose: a bool attribute takes only ``bool`` (``1`` is refused, so a
    misplaced length or handle cannot silently become CK_TRUE); ints are normalised
    from IntEnum to ``int``; bytearray/memoryview become ``bytes``.
    """
    cka = int(cka)
    k = kind(cka)
    if k is AttrKind.BOOL:
        if not isinstance(value, bool):
            raise _invalid(cka, "expected bool")
        return value
    if k is AttrKind.ULONG:
        return _ulong(cka, value)
    if k is AttrKind.STRING:
        if not isinstance(value, str):
            raise _invalid(cka, "expected str")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:   # lone surrogates
            raise _invalid(cka, "not encodable as UTF-8") from None
        return value
    if k is AttrKind.DATE:
        if isinstance(value, datetime.date):
            return value.strftime("%Y%m%d").encode("ascii")
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise _invalid(cka, "expected bytes (YYYYMMDD) or datetime.date")
        return _check_date(cka, bytes(value))
    if k is AttrKind.MECHANISMS:
        if not isinstance(value, (list, tuple)):
            raise _invalid(cka, "expected a list or tuple of ints")
        return tuple(_ulong(cka, m) for m in value)
    if k is AttrKind.TEMPLATE:
        return coerce_template(value, cka)
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise _invalid(cka, "expected bytes")
    return bytes(value)


def coerce_template(pairs: Iterable[Any], cka: int = CKA.WRAP_TEMPLATE) -> tuple[tuple[int, Any], ...]:
    """Canonical form of a template value: tuple of (int type, typed value) pairs."""
    if not isinstance(pairs, (list, tuple)):
        raise _invalid(cka, "expected a sequence of (type, value) pairs")
    out = []
    for pair in pairs:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise _invalid(cka, "expected (type, value) pairs")
        t = _ulong(cka, pair[0])
        out.append((t, coerce(t, pair[1])))
    return tuple(out)


# --- storage image of TEMPLATE values -------------------------------------------------
# Format (all integers u64 little-endian): count, then per entry: type, length, image.
# Each image is encode(type, value), so nested templates recurse. Self-describing so
# the store need not know attribute kinds to skip over a value.

def _encode_template(pairs: tuple[tuple[int, Any], ...]) -> bytes:
    parts = [_ULONG.pack(len(pairs))]
    for t, v in pairs:
        img = encode(t, v)
        parts += [_ULONG.pack(t), _ULONG.pack(len(img)), img]
    return b"".join(parts)


def _decode_template(cka: int, raw: bytes, depth: int = 0) -> tuple[tuple[int, Any], ...]:
    if depth > 4:
        raise _invalid(cka, "template nested too deeply")
    try:
        (count,) = _ULONG.unpack_from(raw, 0)
        pos, out = 8, []
        for _ in range(count):
            t, n = struct.unpack_from("<QQ", raw, pos)
            pos += 16
            if pos + n > len(raw):
                raise _invalid(cka, "truncated template image")
            img = raw[pos:pos + n]
            pos += n
            if kind(t) is AttrKind.TEMPLATE:
                out.append((t, _decode_template(t, img, depth + 1)))
            else:
                out.append((t, decode(t, img)))
    except struct.error:
        raise _invalid(cka, "truncated template image") from None
    if pos != len(raw):
        raise _invalid(cka, "trailing bytes after template image")
    return tuple(out)
