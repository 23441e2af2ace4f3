"""The message buffer inside a p11-kit RPC frame: the call id, the call's signature, then
its values in signature order (p11-kit/rpc-message.c; docs/protocol.md).

Encodings, all big-endian:

    call id     uint32, then the signature as a byte array (below) that must equal the
                call table's request (or response) signature
    y           one byte
    u           CK_ULONG as uint64
    v           CK_VERSION: two bytes
    ay          a flag byte; 1: a byte array -- uint32 length, 0xFFFFFFFF for NULL, then the
                bytes; 0: no array, only its length (uint32) -- a size query
    fy, fu      an output buffer the caller offers: its length only (uint32)
    au          a flag byte (1: values follow), uint32 count, then count uint64 if flagged
    s, z        strings as byte arrays (space-padded / NUL-less)

A peer is never trusted: every read checks the bytes left first, every length against a
ceiling the caller gives, the order of parts against the signature, and :meth:`finish`
refuses trailing bytes. Any breach is a :class:`MessageError` (close the connection).
"""
from __future__ import annotations

import struct

from .wire import FrameError

__all__ = ["NULL_LENGTH", "Cursor", "MessageError", "MessageReader", "MessageWriter", "pack_array"]

NULL_LENGTH = 0xFFFFFFFF
_MAX_ARRAY = 0x7FFFFFFF        # p11-kit refuses lengths from here on, either way
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


class MessageError(FrameError):
    """A message that does not follow its call's signature or the encodings."""


class Cursor:
    """Bounded reads over a received body: every read checks the bytes left first. Shared
    by the message reader and the attribute arrays (server/attribute_wire.py)."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data if isinstance(data, bytes) else bytes(data)
        self.end = len(self.data)
        self.pos = pos

    def take(self, n: int) -> bytes:
        pos = self.pos
        if n > self.end - pos:
            raise MessageError("message ends inside a value")
        self.pos = pos + n
        return self.data[pos:pos + n]

    def u32(self) -> int:
        pos = self.pos
        if pos + 4 > self.end:
            raise MessageError("message ends inside a value")
        self.pos = pos + 4
        value: int = _U32.unpack_from(self.data, pos)[0]
        return value

    def u64(self) -> int:
        pos = self.pos
        if pos + 8 > self.end:
            raise MessageError("message ends inside a value")
        self.pos = pos + 8
        value: int = _U64.unpack_from(self.data, pos)[0]
        return value

    def count(self, limit: int) -> int:
        """A uint32 count of items, at most ``limit``."""
        n = self.u32()
        if n > limit:
            raise MessageError(f"{n} items exceed {limit}")
        return n

    def array(self, limit: int) -> bytes | None:
        """A byte array: uint32 length (NULL_LENGTH: None) and at most ``limit`` bytes."""
        n = self.u32()
        if n == NULL_LENGTH:
            return None
        if n >= _MAX_ARRAY or n > limit:
            raise MessageError(f"array of {n} bytes exceeds {limit}")
        return self.take(n)


def pack_array(data: bytes | None) -> bytes:
    """A byte array as sent: uint32 length and the bytes, NULL_LENGTH for None."""
    if data is None:
        return _U32.pack(NULL_LENGTH)
    if len(data) >= _MAX_ARRAY:
        raise ValueError("byte array too long for the protocol")
    return _U32.pack(len(data)) + data


_HEADS: dict[tuple[int, str], bytes] = {}


def _head(call_id: int, sig: str) -> bytes:
    """The first bytes of every message of this call: its id and its signature."""
    head = _HEADS.get((call_id, sig))
    if head is None:
        head = _HEADS[call_id, sig] = _U32.pack(call_id) + pack_array(sig.encode("ascii"))
    return head


class MessageReader:
    """Reads one message body; ``signatures`` maps call id -> the expected signature."""

    __slots__ = ("_cur", "_i", "_sig", "_take", "call_id")

    def __init__(self, body: bytes, signatures: dict[int, str]) -> None:
        self._cur = cur = Cursor(body)
        self._take = cur.take
        self.call_id = cur.u32()
        sig = signatures.get(self.call_id)
        if sig is None:
            raise MessageError(f"unknown call id {self.call_id}")
        head = _head(self.call_id, sig)          # call id, then the signature as sent
        if not cur.data.startswith(head):
            raise MessageError(f"call {self.call_id}: signature does not match")
        cur.pos = len(head)
        self._sig, self._i = sig, 0

    def _part(self, code: str) -> None:
        if not self._sig.startswith(code, self._i):
            raise MessageError(f"call {self.call_id}: read {code!r} where {self._sig[self._i:self._i + 2]!r} comes")
        self._i += len(code)

    # --- typed reads, in signature order ---------------------------------------------
    def byte(self) -> int:
        self._part("y")
        return self._take(1)[0]

    def ulong(self) -> int:
        self._part("u")
        return self._cur.u64()

    def version(self) -> tuple[int, int]:
        self._part("v")
        major, minor = self._take(2)
        return major, minor

    def byte_array(self, limit: int) -> bytes | int | None:
        """The bytes; or an ``int``: only a length was sent (no array: a size query);
        or None: a NULL array."""
        self._part("ay")
        flag = self._take(1)[0]
        if flag == 0:
            return self._cur.u32()
        if flag != 1:
            raise MessageError("byte array flag is neither 0 nor 1")
        return self._cur.array(limit)

    def byte_buffer(self) -> int:
        """The length of the output buffer the caller offers (0: a size query)."""
        self._part("fy")
        return self._cur.u32()

    def ulong_buffer(self) -> int:
        self._part("fu")
        return self._cur.u32()

    def ulong_array(self, limit: int) -> list[int] | int:
        """The values; or an ``int``: only a count was sent."""
        self._part("au")
        flag = self._take(1)[0]
        n = self._cur.u32()
        if flag == 0:
            return n
        if flag != 1 or n > limit:
            raise MessageError(f"ulong array of {n} (flag {flag}) refused")
        raw = self._take(8 * n)
        return [v for (v,) in _U64.iter_unpack(raw)]

    def string(self, limit: int) -> bytes:
        """``z``: a string sent as a byte array (never NULL here)."""
        self._part("z")
        value = self._cur.array(limit)
        if value is None:
            raise MessageError("NULL string")
        return value

    def space_string(self, width: int) -> bytes:
        """``s``: a blank-padded field of exactly ``width`` bytes (C_InitToken2's label)."""
        self._part("s")
        value = self._cur.array(width)
        if value is None or len(value) != width:
            raise MessageError(f"a {width}-byte field of another length")
        return value

    def cursor(self, code: str) -> Cursor:
        """The cursor at part ``code`` (``M``, ``aA``, ``fA``), for the readers of those
        encodings (server/mechanism_wire.py, server/attribute_wire.py) to take it."""
        self._part(code)
        return self._cur

    def finish(self) -> None:
        """Every part read and nothing left over."""
        if self._i != len(self._sig):
            raise MessageError(f"call {self.call_id}: parts {self._sig[self._i:]!r} not read")
        left = len(self._cur.data) - self._cur.pos
        if left:
            raise MessageError(f"call {self.call_id}: {left} trailing bytes")


class MessageWriter:
    """Builds one message body for ``call_id`` with ``signature`` (a response, usually)."""

    __slots__ = ("_i", "_out", "_sig")

    def __init__(self, call_id: int, signature: str) -> None:
        self._out = bytearray(_head(call_id, signature))
        self._sig, self._i = signature, 0

    def _part(self, code: str) -> None:
        if not self._sig.startswith(code, self._i):
            raise ValueError(f"writing {code!r} where {self._sig[self._i:self._i + 2]!r} comes")
        self._i += len(code)

    def byte(self, value: int) -> MessageWriter:
        self._part("y")
        self._out.append(value)
        return self

    def ulong(self, value: int) -> MessageWriter:
        self._part("u")
        self._out += _U64.pack(value)
        return self

    def version(self, major: int, minor: int) -> MessageWriter:
        self._part("v")
        self._out += bytes((major, minor))
        return self

    def byte_array(self, data: bytes | int | None) -> MessageWriter:
        """Bytes; or an ``int``: the length only (the answer to a size query)."""
        self._part("ay")
        if isinstance(data, int):
            self._out += b"\x00" + _U32.pack(data)
        else:
            self._out.append(1)
            self._out += pack_array(data)
        return self

    def ulong_array(self, values: list[int] | int) -> MessageWriter:
        self._part("au")
        if isinstance(values, int):
            self._out += b"\x00" + _U32.pack(values)
        else:
            self._out += b"\x01" + _U32.pack(len(values)) + b"".join(_U64.pack(v) for v in values)
        return self

    def raw(self, code: str, encoded: bytes) -> MessageWriter:
        """Part ``code`` already encoded (``aA`` by attribute_wire, ``ay`` param images)."""
        self._part(code)
        self._out += encoded
        return self

    def space_string(self, text: str, width: int) -> MessageWriter:
        """``s``: a CK_UTF8CHAR field of ``width`` bytes, blank-padded (as in CK_INFO)."""
        self._part("s")
        raw = text.encode("utf-8")[:width]
        self._out += pack_array(raw + b" " * (width - len(raw)))
        return self

    def body(self) -> bytes:
        if self._i != len(self._sig):
            raise ValueError(f"parts {self._sig[self._i:]!r} not written")
        return bytes(self._out)
