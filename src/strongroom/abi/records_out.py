"""The core's info records out: CK_INFO, CK_SLOT_INFO, CK_TOKEN_INFO, CK_SESSION_INFO,
CK_MECHANISM_INFO, SR_TOKEN_USAGE, each described by one table of
(C field, record field, kind).

Kinds: ``ULONG`` a CK_ULONG / CK_FLAGS, ``VERSION`` a CK_VERSION from a (major, minor)
pair, an ``int`` width: a fixed-width UTF-8 string, blank padded (marshal.pad).
CK_INFO, CK_SLOT_INFO and CK_TOKEN_INFO images are cached per record: the records are
small, immutable and rarely change (C_GetInfo is the bench's per-call floor), so a
repeated call is one dict lookup and one memmove.
"""
from __future__ import annotations

from .._records import TYPE_CHECKING
from .marshal import pad
from .native import ffi

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable
    from typing import Any

ULONG, VERSION = "ulong", "version"
Fields = tuple[tuple[str, str, "str | int"], ...]

INFO: Fields = (
    ("cryptokiVersion", "cryptoki_version", VERSION), ("manufacturerID", "manufacturer_id", 32),
    ("flags", "flags", ULONG), ("libraryDescription", "library_description", 32),
    ("libraryVersion", "library_version", VERSION))
SLOT_INFO: Fields = (
    ("slotDescription", "slot_description", 64), ("manufacturerID", "manufacturer_id", 32),
    ("flags", "flags", ULONG), ("hardwareVersion", "hardware_version", VERSION),
    ("firmwareVersion", "firmware_version", VERSION))
TOKEN_INFO: Fields = (
    ("label", "label", 32), ("manufacturerID", "manufacturer_id", 32), ("model", "model", 16),
    ("serialNumber", "serial_number", 16), ("flags", "flags", ULONG),
    ("ulMaxSessionCount", "max_session_count", ULONG), ("ulSessionCount", "session_count", ULONG),
    ("ulMaxRwSessionCount", "max_rw_session_count", ULONG), ("ulRwSessionCount", "rw_session_count", ULONG),
    ("ulMaxPinLen", "max_pin_len", ULONG), ("ulMinPinLen", "min_pin_len", ULONG),
    ("ulTotalPublicMemory", "total_public_memory", ULONG), ("ulFreePublicMemory", "free_public_memory", ULONG),
    ("ulTotalPrivateMemory", "total_private_memory", ULONG),
    ("ulFreePrivateMemory", "free_private_memory", ULONG),
    ("hardwareVersion", "hardware_version", VERSION), ("firmwareVersion", "firmware_version", VERSION),
    ("utcTime", "utc_time", 16))
SESSION_INFO: Fields = (
    ("slotID", "slot_id", ULONG), ("state", "state", ULONG), ("flags", "flags", ULONG),
    ("ulDeviceError", "device_error", ULONG))
MECHANISM_INFO: Fields = (
    ("ulMinKeySize", "min_key_size", ULONG), ("ulMaxKeySize", "max_key_size", ULONG), ("flags", "flags", ULONG))
TOKEN_USAGE: Fields = (            # strongroom_vendor.h
    ("ulObjects", "objects", ULONG), ("ulBytesUsed", "bytes_used", ULONG),
    ("ulQuotaObjects", "quota_objects", ULONG), ("ulQuotaBytes", "quota_bytes", ULONG),
    ("ulUserPinFailures", "user_pin_failures", ULONG), ("ulSoPinFailures", "so_pin_failures", ULONG),
    ("ulPinMaxTries", "pin_max_tries", ULONG))

_memmove = ffi.memmove
_images: dict[Hashable, bytes] = {}


def fill(c: Any, rec: Any, fields: Fields) -> None:
    """Write ``rec``'s fields into the C struct ``c`` (a pointer from the caller or ffi.new)."""
    for cname, name, kind in fields:
        value = getattr(rec, name)
        if kind is ULONG:
            setattr(c, cname, value)
        elif kind is VERSION:
            v = getattr(c, cname)
            v.major, v.minor = value
        else:
            assert isinstance(kind, int)
            _memmove(getattr(c, cname), pad(value, kind), kind)


def _cached(ctype: str, fields: Fields) -> Callable[[Any, Hashable], None]:
    """write(p, rec): ``rec``'s image as ``ctype`` into ``*p``, built once per record."""
    size = ffi.sizeof(ctype)
    new = ctype + " *"

    def write(p: Any, rec: Hashable) -> None:
        img = _images.get(rec)
        if img is None:
            c = ffi.new(new)
            fill(c, rec, fields)
            img = ffi.buffer(c)[:]
            if len(_images) > 256:
                _images.clear()
            _images[rec] = img
        _memmove(p, img, size)
    return write


write_info = _cached("CK_INFO", INFO)
write_slot_info = _cached("CK_SLOT_INFO", SLOT_INFO)
write_token_info = _cached("CK_TOKEN_INFO", TOKEN_INFO)
