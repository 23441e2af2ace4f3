"""C <-> Python conversions used by :mod:`strongroom.abi.entry`.

Everything here works on cffi cdata of the module's own ``ffi`` (bound once with
:func:`bind`). Rules (docs/design.md, v2.40 / v3.0 §5):

* input templates: each value is decoded with the attribute codec; TEMPLATE-kind
  attributes (CKA_WRAP_TEMPLATE ...) are nested CK_ATTRIBUTE arrays decoded here;
  a NULL pValue with a nonzero ulValueLen is CKR_ARGUMENTS_BAD;
* lying lengths: every count and ``ulValueLen`` is compared with its maximum
  (``pkcs11/limits.py``) before a byte is read -- a count beyond any template is
  CKR_ARGUMENTS_BAD, a value longer than its type allows CKR_ATTRIBUTE_VALUE_INVALID
  (v3.0 §5.1.6; §4.1.1 rule 2) -- so a length no real buffer backs never reaches a copy;
* C_GetAttributeValue output: per attribute, NULL pValue -> length; too small ->
  CK_UNAVAILABLE_INFORMATION + BUFFER_TOO_SMALL; sensitive -> UNAVAILABLE +
  ATTRIBUTE_SENSITIVE; invalid -> UNAVAILABLE + ATTRIBUTE_TYPE_INVALID; every attribute
  is processed and the call returns one of those codes (any one is allowed when
  several apply; we prefer SENSITIVE, then TYPE_INVALID, then BUFFER_TOO_SMALL);
* fixed-width info strings are UTF-8, blank padded (truncated on a character boundary).
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from ..pkcs11 import limits as L
from ..pkcs11.attributes import ATTRIBUTE_KINDS, VALUE_MAX, AttrKind, decode, encode
from ..pkcs11.constants import CK_UNAVAILABLE_INFORMATION, CKR
from ..pkcs11.errors import CKRError
from ..pkcs11.template import Unreadable
from ..token.inprocess import APPLICATION
from ..wipe import wiped as wiped  # re-exported: the entry_* modules call M.wiped

if TYPE_CHECKING:
    from typing import Any

ffi: Any = None
ATTR_SIZE = L.SIZEOF_ATTRIBUTE      # sizeof(CK_ATTRIBUTE) on LP64, checked in bind()
MAX_TEMPLATE_DEPTH = L.MAX_TEMPLATE_DEPTH
MAX_TEMPLATE_COUNT = L.MAX_TEMPLATE_COUNT
MAX_GET_COUNT = L.MAX_GET_COUNT

_TEMPLATE = AttrKind.TEMPLATE
_KIND_GET = ATTRIBUTE_KINDS.get
_SENSITIVE = Unreadable.SENSITIVE
_INVALID = Unreadable.INVALID
_UNAV = CK_UNAVAILABLE_INFORMATION
_ARGUMENTS_BAD = CKR.ARGUMENTS_BAD
_VALUE_INVALID = CKR.ATTRIBUTE_VALUE_INVALID


_MAX_GET = VALUE_MAX.get


def _cap() -> int:
    """Bound of a value with none of its own: the running ``quota_bytes`` (no object can
    hold a larger value), read once per template."""
    config = APPLICATION.config
    return (config.quota_bytes if config is not None else 0) or L.DEFAULT_VALUE_MAX


def bind(the_ffi: Any) -> None:
    global ffi, ATTR_SIZE
    ffi = the_ffi
    ATTR_SIZE = ffi.sizeof("CK_ATTRIBUTE")


# --- strings ---------------------------------------------------------------------------
_pad_cache: dict[tuple[str, int], bytes] = {}


def pad(text: str, width: int) -> bytes:
    """``text`` as UTF-8 blank padded to ``width`` bytes (cut on a character boundary)."""
    key = (text, width)
    out = _pad_cache.get(key)
    if out is None:
        raw = (text or "").encode("utf-8")
        if len(raw) > width:
            raw = raw[:width].decode("utf-8", "ignore").encode("utf-8")
        out = raw.ljust(width, b" ")
        if len(_pad_cache) > 1024:
            _pad_cache.clear()
        _pad_cache[key] = out
    return out


def unpad(raw: bytes) -> str:
    """A blank-padded UTF-8 field (C_InitToken's label) as ``str``."""
    try:
        return raw.rstrip(b" \x00").decode("utf-8")
    except UnicodeDecodeError:
        raise CKRError(CKR.ARGUMENTS_BAD, "label is not UTF-8") from None


# --- plain buffers ---------------------------------------------------------------------
def data_in(ptr: Any, n: int) -> bytes:
    """Input byte string (the C wrapper already refused NULL with n != 0)."""
    return ffi.buffer(ptr, n)[:] if n else b""


def pin_in(ptr: Any, n: int) -> bytearray | None:
    """A PIN: NULL (protected authentication path) -> None; else a ``bytearray`` copied
    straight from the caller's buffer (no ``bytes`` in between), which the entry point
    zeroes when the core returns (issue 10: no PIN left in memory)."""
    if not ptr:
        return None
    return bytearray(ffi.buffer(ptr, n)) if n else bytearray()


# --- templates in ----------------------------------------------------------------------
def template_in(arr: Any, count: int, depth: int = 0, room: list[int] | None = None,
                cap: int = 0) -> list[tuple[int, Any]]:
    """CK_ATTRIBUTE[count] -> [(type, typed value)]; ``count`` is already bounded.

    Each ``ulValueLen`` is checked against :data:`VALUE_MAX` (else ``cap``) before its
    value is read; ``room`` counts the entries nested templates may still add."""
    out: list[tuple[int, Any]] = []
    append = out.append
    cap = cap or _cap()
    for i in range(count):
        a = arr[i]
        t = a.type
        n = a.ulValueLen
        if n > _MAX_GET(t, cap):
            raise CKRError(_VALUE_INVALID, "ulValueLen above the attribute's maximum (pkcs11/limits.py)")
        p = a.pValue
        if _KIND_GET(t) is _TEMPLATE:
            if room is None:
                room = [MAX_TEMPLATE_COUNT - count]
            append((t, _nested(p, n, depth, room, cap)))
            continue
        if p:
            raw = ffi.buffer(p, n)[:] if n else b""
        elif n:
            raise CKRError(_ARGUMENTS_BAD, "NULL pValue with nonzero ulValueLen")
        else:
            raw = b""
        append((t, decode(t, raw)))
    return out


def _nested(p: Any, n: int, depth: int, room: list[int], cap: int) -> tuple[tuple[int, Any], ...]:
    """The value of a CKA_*_TEMPLATE attribute: a CK_ATTRIBUTE array of ``n`` bytes."""
    if not p and n:
        raise CKRError(_ARGUMENTS_BAD, "NULL pValue with nonzero ulValueLen")
    if n % ATTR_SIZE:
        raise CKRError(_VALUE_INVALID, "template attribute length is not "
                                       "a multiple of sizeof(CK_ATTRIBUTE)")
    if depth >= MAX_TEMPLATE_DEPTH:
        raise CKRError(_VALUE_INVALID, "template nested too deeply")
    if not n:
        return ()
    count = n // ATTR_SIZE
    room[0] -= count
    if room[0] < 0:
        raise CKRError(_VALUE_INVALID, f"template and nested templates above {MAX_TEMPLATE_COUNT} entries")
    return tuple(template_in(ffi.cast("CK_ATTRIBUTE *", p), count, depth + 1, room, cap))


def template_arg(arr: Any, count: int) -> list[tuple[int, Any]]:
    """An input template argument (pTemplate, ulCount)."""
    if not count:
        return []
    if count > MAX_TEMPLATE_COUNT:
        raise CKRError(_ARGUMENTS_BAD, f"ulCount above {MAX_TEMPLATE_COUNT} (pkcs11/limits.py)")
    if not arr:
        raise CKRError(_ARGUMENTS_BAD, "NULL template with nonzero count")
    return template_in(arr, count)



def types_in(arr: Any, count: int) -> list[int]:
    """The types of a C_GetAttributeValue template; a count beyond MAX_GET_COUNT is
    CKR_ARGUMENTS_BAD before any entry is read."""
    if count > MAX_GET_COUNT:
        raise CKRError(_ARGUMENTS_BAD, f"ulCount above {MAX_GET_COUNT} (pkcs11/limits.py)")
    return [arr[i].type for i in range(count)]


# --- C_GetAttributeValue out -----------------------------------------------------------
# bit flags collected while filling, turned into one CK_RV at the end
_F_SENSITIVE, _F_INVALID, _F_SMALL = 1, 2, 4


def fill_attributes(arr: Any, count: int, values: list[Any]) -> int:
    flags = 0
    for i in range(count):
        a = arr[i]
        v = values[i]
        if v is _SENSITIVE:
            a.ulValueLen = _UNAV
            flags |= _F_SENSITIVE
            continue
        if v is _INVALID:
            a.ulValueLen = _UNAV
            flags |= _F_INVALID
            continue
        t = a.type
        if _KIND_GET(t) is _TEMPLATE:
            n = len(v)
            need = n * ATTR_SIZE
            if not a.pValue:
                a.ulValueLen = need
            elif a.ulValueLen < need:
                a.ulValueLen = _UNAV
                flags |= _F_SMALL
            else:
                inner = ffi.cast("CK_ATTRIBUTE *", a.pValue)
                for j, (tt, _) in enumerate(v):
                    inner[j].type = tt
                flags |= fill_attributes(inner, n, [vv for _, vv in v])
                a.ulValueLen = need
            continue
        raw = encode(t, v)
        n = len(raw)
        if not a.pValue:
            a.ulValueLen = n
        elif a.ulValueLen >= n:
            if n:
                ffi.memmove(a.pValue, raw, n)
            a.ulValueLen = n
        else:
            a.ulValueLen = _UNAV
            flags |= _F_SMALL
    return flags


def attribute_rv(flags: int) -> int:
    if not flags:
        return 0
    if flags & _F_SENSITIVE:
        return CKR.ATTRIBUTE_SENSITIVE
    if flags & _F_INVALID:
        return CKR.ATTRIBUTE_TYPE_INVALID
    return CKR.BUFFER_TOO_SMALL


# --- ULONG lists (slots, mechanisms) ---------------------------------------------------
def ulong_list_out(items: list[int], out: Any, pcount: Any) -> int:
    n = len(items)
    if not out:
        pcount[0] = n
        return 0
    if pcount[0] < n:
        pcount[0] = n
        return CKR.BUFFER_TOO_SMALL
    for i, v in enumerate(items):
        out[i] = v
    pcount[0] = n
    return 0
